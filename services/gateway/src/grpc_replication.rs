//! The public gRPC front of replication: `PolicyService` and `ExecutionService` (including the
//! `WatchExecution` progress stream), through the same [`crate::ops`] as HTTP/JSON.

use std::pin::Pin;

use berth_proto::v1::execution_service_server::ExecutionService;
use berth_proto::v1::policy_service_server::PolicyService;
use berth_proto::v1::*;
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::grpc::PublicApi;
use crate::ops;

fn required<T>(field: &str, v: Option<T>) -> Result<T, Status> {
    v.ok_or_else(|| berth_error::ApiError::invalid(field, "is required").into())
}

#[tonic::async_trait]
impl PolicyService for PublicApi {
    async fn create_policy(
        &self,
        req: Request<CreatePolicyRequest>,
    ) -> Result<Response<CreatePolicyResponse>, Status> {
        let p = self.principal(&req).await?;
        let policy = required("policy", req.into_inner().policy)?;
        let policy = ops::create_policy(&self.state, &p, policy).await?;
        Ok(Response::new(CreatePolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn get_policy(
        &self,
        req: Request<GetPolicyRequest>,
    ) -> Result<Response<GetPolicyResponse>, Status> {
        let p = self.principal(&req).await?;
        let policy = ops::get_policy(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(GetPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn list_policies(
        &self,
        req: Request<ListPoliciesRequest>,
    ) -> Result<Response<ListPoliciesResponse>, Status> {
        let p = self.principal(&req).await?;
        let policies = ops::list_policies(&self.state, &p).await?;
        Ok(Response::new(ListPoliciesResponse {
            policies,
            next_page_token: String::new(),
        }))
    }

    async fn update_policy(
        &self,
        req: Request<UpdatePolicyRequest>,
    ) -> Result<Response<UpdatePolicyResponse>, Status> {
        let p = self.principal(&req).await?;
        let req = req.into_inner();
        required("policy", req.policy.as_ref())?;
        let policy = ops::update_policy(&self.state, &p, req).await?;
        Ok(Response::new(UpdatePolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn delete_policy(
        &self,
        req: Request<DeletePolicyRequest>,
    ) -> Result<Response<DeletePolicyResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::delete_policy(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(DeletePolicyResponse {}))
    }
}

#[tonic::async_trait]
impl ExecutionService for PublicApi {
    async fn run_policy(
        &self,
        req: Request<RunPolicyRequest>,
    ) -> Result<Response<RunPolicyResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let execution = ops::run_policy(&self.state, &p, &r.name, r.verify).await?;
        Ok(Response::new(RunPolicyResponse {
            execution: Some(execution),
        }))
    }

    async fn get_execution(
        &self,
        req: Request<GetExecutionRequest>,
    ) -> Result<Response<GetExecutionResponse>, Status> {
        let p = self.principal(&req).await?;
        let execution = ops::get_execution(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(GetExecutionResponse {
            execution: Some(execution),
        }))
    }

    async fn list_executions(
        &self,
        req: Request<ListExecutionsRequest>,
    ) -> Result<Response<ListExecutionsResponse>, Status> {
        let p = self.principal(&req).await?;
        let executions = ops::list_executions(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(ListExecutionsResponse {
            executions,
            next_page_token: String::new(),
        }))
    }

    async fn list_tasks(
        &self,
        req: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_tasks(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn cancel_execution(
        &self,
        req: Request<CancelExecutionRequest>,
    ) -> Result<Response<CancelExecutionResponse>, Status> {
        let p = self.principal(&req).await?;
        let execution = ops::cancel_execution(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(CancelExecutionResponse {
            execution: Some(execution),
        }))
    }

    type WatchExecutionStream =
        Pin<Box<dyn Stream<Item = Result<WatchExecutionResponse, Status>> + Send + 'static>>;

    async fn watch_execution(
        &self,
        req: Request<WatchExecutionRequest>,
    ) -> Result<Response<Self::WatchExecutionStream>, Status> {
        let p = self.principal(&req).await?;
        let stream = ops::watch_execution(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(Box::pin(stream)))
    }
}
