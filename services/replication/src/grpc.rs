//! `PolicyService` and `ExecutionService`: thin handlers over [`Replication`].

use berth_error::ApiError;
use berth_proto::v1::execution_service_server::ExecutionService;
use berth_proto::v1::policy_service_server::PolicyService;
use berth_proto::v1::*;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::Replication;

#[derive(Clone)]
pub struct ReplicationApi {
    pub replication: Replication,
}

#[tonic::async_trait]
impl PolicyService for ReplicationApi {
    async fn create_policy(
        &self,
        req: Request<CreatePolicyRequest>,
    ) -> Result<Response<CreatePolicyResponse>, Status> {
        let policy = req
            .into_inner()
            .policy
            .ok_or_else(|| ApiError::invalid("policy", "is required"))?;
        let policy = self.replication.create_policy(policy).await?;
        Ok(Response::new(CreatePolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn get_policy(
        &self,
        req: Request<GetPolicyRequest>,
    ) -> Result<Response<GetPolicyResponse>, Status> {
        let policy = self.replication.get_policy(&req.into_inner().name).await?;
        Ok(Response::new(GetPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn list_policies(
        &self,
        _req: Request<ListPoliciesRequest>,
    ) -> Result<Response<ListPoliciesResponse>, Status> {
        let policies = self.replication.list_policies().await?;
        Ok(Response::new(ListPoliciesResponse {
            policies,
            next_page_token: String::new(),
        }))
    }

    async fn update_policy(
        &self,
        req: Request<UpdatePolicyRequest>,
    ) -> Result<Response<UpdatePolicyResponse>, Status> {
        let req = req.into_inner();
        let policy = req
            .policy
            .ok_or_else(|| ApiError::invalid("policy", "is required"))?;
        let mask = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let policy = self.replication.patch_policy(policy, &mask).await?;
        Ok(Response::new(UpdatePolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn delete_policy(
        &self,
        req: Request<DeletePolicyRequest>,
    ) -> Result<Response<DeletePolicyResponse>, Status> {
        self.replication
            .delete_policy(&req.into_inner().name)
            .await?;
        Ok(Response::new(DeletePolicyResponse {}))
    }
}

#[tonic::async_trait]
impl ExecutionService for ReplicationApi {
    async fn run_policy(
        &self,
        req: Request<RunPolicyRequest>,
    ) -> Result<Response<RunPolicyResponse>, Status> {
        let r = req.into_inner();
        let execution = self.replication.run(&r.name, "manual", r.verify).await?;
        Ok(Response::new(RunPolicyResponse {
            execution: Some(execution),
        }))
    }

    async fn get_execution(
        &self,
        req: Request<GetExecutionRequest>,
    ) -> Result<Response<GetExecutionResponse>, Status> {
        let execution = self.replication.get_execution(&req.into_inner().id).await?;
        Ok(Response::new(GetExecutionResponse {
            execution: Some(execution),
        }))
    }

    async fn list_executions(
        &self,
        req: Request<ListExecutionsRequest>,
    ) -> Result<Response<ListExecutionsResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.page_size <= 0 {
            50
        } else {
            r.page_size.min(500) as u64
        };
        let executions = self.replication.list_executions(&r.policy, limit).await?;
        Ok(Response::new(ListExecutionsResponse {
            executions,
            next_page_token: String::new(),
        }))
    }

    async fn list_tasks(
        &self,
        req: Request<ListTasksRequest>,
    ) -> Result<Response<ListTasksResponse>, Status> {
        let r = req.into_inner();
        let limit = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u64
        };
        let tasks = self
            .replication
            .list_tasks(&r.execution, &r.status, &r.page_token, limit)
            .await?;
        let next_page_token = if tasks.len() as u64 == limit {
            tasks.last().map(|t| t.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListTasksResponse {
            tasks,
            next_page_token,
        }))
    }

    async fn cancel_execution(
        &self,
        req: Request<CancelExecutionRequest>,
    ) -> Result<Response<CancelExecutionResponse>, Status> {
        let execution = self.replication.cancel(&req.into_inner().id).await?;
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
        let id = req.into_inner().id;
        // Fail fast on an unknown execution rather than in the stream.
        self.replication.get_execution(&id).await?;
        let stream = self.replication.watch(id).map(|r| {
            r.map(|e| WatchExecutionResponse { execution: Some(e) })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[tonic::async_trait]
impl berth_proto::v1::import_service_server::ImportService for ReplicationApi {
    async fn import_image(
        &self,
        req: Request<tonic::Streaming<ImportImageRequest>>,
    ) -> Result<Response<ImportImageResponse>, Status> {
        let mut parts = req.into_inner();
        let target = match parts.message().await?.and_then(|m| m.part) {
            Some(import_image_request::Part::Target(t)) => t,
            _ => return Err(ApiError::invalid("target", "must come first").into()),
        };
        berth_error::validate::dns_label(&target.registry)
            .map_err(|m| ApiError::invalid("registry", m))?;
        if !berth_oci::reference::valid_repository(&target.repository) {
            return Err(ApiError::invalid(
                "repository",
                "must be a repository name (lowercase path components)",
            )
            .into());
        }
        if !berth_oci::reference::valid_tag(&target.tag) {
            return Err(ApiError::invalid(
                "tag",
                "must be a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
            )
            .into());
        }
        let dst = self.replication.client(&target.registry).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let feed = tokio::spawn(async move {
            while let Some(m) = parts.message().await? {
                if let Some(import_image_request::Part::Chunk(b)) = m.part {
                    if tx.send(bytes::Bytes::from(b)).await.is_err() {
                        break;
                    }
                }
            }
            Ok::<(), Status>(())
        });
        let imported = crate::import::import(&dst, &target.repository, &target.tag, rx).await;
        feed.abort();
        let imported = imported?;
        tracing::info!(registry = %target.registry, repository = %target.repository, tag = %target.tag, digest = %imported.digest, bytes = imported.bytes, "image imported");
        Ok(Response::new(ImportImageResponse {
            repository: target.repository,
            tag: target.tag,
            digest: imported.digest,
            blobs: imported.blobs,
            bytes: imported.bytes,
        }))
    }
}
