//! The public gRPC front end: the same operations as HTTP/JSON, through [`crate::ops`].

use berth_proto::v1::audit_service_server::AuditService;
use berth_proto::v1::registry_service_server::RegistryService;
use berth_proto::v1::token_service_server::TokenService;
use berth_proto::v1::*;
use tonic::{Request, Response, Status};

use crate::authn::{authenticate, Principal};
use crate::ops;
use crate::state::AppState;

#[derive(Clone)]
pub struct PublicApi {
    pub state: AppState,
}

impl PublicApi {
    pub(crate) async fn principal<T>(&self, req: &Request<T>) -> Result<Principal, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        Ok(authenticate(&self.state, header).await?)
    }
}

#[tonic::async_trait]
impl RegistryService for PublicApi {
    async fn create_registry(
        &self,
        req: Request<CreateRegistryRequest>,
    ) -> Result<Response<CreateRegistryResponse>, Status> {
        let p = self.principal(&req).await?;
        let registry = ops::create_registry(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(CreateRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn get_registry(
        &self,
        req: Request<GetRegistryRequest>,
    ) -> Result<Response<GetRegistryResponse>, Status> {
        let p = self.principal(&req).await?;
        let registry = ops::get_registry(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(GetRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn list_registries(
        &self,
        req: Request<ListRegistriesRequest>,
    ) -> Result<Response<ListRegistriesResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_registries(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn update_registry(
        &self,
        req: Request<UpdateRegistryRequest>,
    ) -> Result<Response<UpdateRegistryResponse>, Status> {
        let p = self.principal(&req).await?;
        let registry = ops::update_registry(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(UpdateRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn delete_registry(
        &self,
        req: Request<DeleteRegistryRequest>,
    ) -> Result<Response<DeleteRegistryResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::delete_registry(&self.state, &p, &r.name, r.cascade).await?;
        Ok(Response::new(DeleteRegistryResponse {}))
    }

    async fn ping_registry(
        &self,
        req: Request<PingRegistryRequest>,
    ) -> Result<Response<PingRegistryResponse>, Status> {
        let p = self.principal(&req).await?;
        let health = ops::ping_registry(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(PingRegistryResponse {
            health: Some(health),
        }))
    }

    async fn get_registry_overview(
        &self,
        req: Request<GetRegistryOverviewRequest>,
    ) -> Result<Response<GetRegistryOverviewResponse>, Status> {
        let p = self.principal(&req).await?;
        let overview = ops::registry_overview(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(GetRegistryOverviewResponse {
            overview: Some(overview),
        }))
    }

    async fn get_platform_overview(
        &self,
        req: Request<GetPlatformOverviewRequest>,
    ) -> Result<Response<GetPlatformOverviewResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::platform_overview(&self.state, &p).await?,
        ))
    }

    async fn list_repositories(
        &self,
        req: Request<ListRepositoriesRequest>,
    ) -> Result<Response<ListRepositoriesResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_repositories(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn list_artifacts(
        &self,
        req: Request<ListArtifactsRequest>,
    ) -> Result<Response<ListArtifactsResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_artifacts(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn rotate_hook_secret(
        &self,
        req: Request<RotateHookSecretRequest>,
    ) -> Result<Response<RotateHookSecretResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::rotate_hook_secret(&self.state, &p, req.into_inner()).await?,
        ))
    }
}

#[tonic::async_trait]
impl TokenService for PublicApi {
    async fn create_token(
        &self,
        req: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::create_token(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn list_tokens(
        &self,
        req: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_tokens(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn delete_token(
        &self,
        req: Request<DeleteTokenRequest>,
    ) -> Result<Response<DeleteTokenResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::delete_token(&self.state, &p, &req.into_inner().id).await?;
        Ok(Response::new(DeleteTokenResponse {}))
    }
}

#[tonic::async_trait]
impl AuditService for PublicApi {
    async fn list_audit_events(
        &self,
        req: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_audit_events(&self.state, &p, req.into_inner()).await?,
        ))
    }
}
