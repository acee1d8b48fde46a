//! `berth.v1.RegistryService`: thin handlers over [`Registries`].

use berth_error::ApiError;
use berth_proto::v1::registry_provisioning_service_server::RegistryProvisioningService;
use berth_proto::v1::registry_service_server::RegistryService;
use berth_proto::v1::*;
use tonic::{Request, Response, Status};

use crate::adapter::Spaces;
use crate::registries::{page_size, Registries};

#[derive(Clone)]
pub struct RegistryApi {
    pub registries: Registries,
}

fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "is required").into());
    }
    Ok(())
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_registry(
        &self,
        req: Request<CreateRegistryRequest>,
    ) -> Result<Response<CreateRegistryResponse>, Status> {
        let registry = self.registries.create(req.into_inner()).await?;
        Ok(Response::new(CreateRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn get_registry(
        &self,
        req: Request<GetRegistryRequest>,
    ) -> Result<Response<GetRegistryResponse>, Status> {
        let req = req.into_inner();
        required("name", &req.name)?;
        let registry = self.registries.get(&req.name).await?;
        Ok(Response::new(GetRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn list_registries(
        &self,
        req: Request<ListRegistriesRequest>,
    ) -> Result<Response<ListRegistriesResponse>, Status> {
        let req = req.into_inner();
        let (registries, next_page_token) = self
            .registries
            .list(page_size(req.page_size), &req.page_token, &req.workspace)
            .await?;
        Ok(Response::new(ListRegistriesResponse {
            registries,
            next_page_token,
        }))
    }

    async fn update_registry(
        &self,
        req: Request<UpdateRegistryRequest>,
    ) -> Result<Response<UpdateRegistryResponse>, Status> {
        let req = req.into_inner();
        required("name", &req.name)?;
        let registry = self.registries.update(req).await?;
        Ok(Response::new(UpdateRegistryResponse {
            registry: Some(registry),
        }))
    }

    async fn delete_registry(
        &self,
        req: Request<DeleteRegistryRequest>,
    ) -> Result<Response<DeleteRegistryResponse>, Status> {
        let req = req.into_inner();
        required("name", &req.name)?;
        self.registries.delete(&req.name).await?;
        Ok(Response::new(DeleteRegistryResponse {}))
    }

    async fn ping_registry(
        &self,
        req: Request<PingRegistryRequest>,
    ) -> Result<Response<PingRegistryResponse>, Status> {
        let req = req.into_inner();
        required("name", &req.name)?;
        let health = self.registries.ping(&req.name).await?;
        Ok(Response::new(PingRegistryResponse {
            health: Some(health),
        }))
    }

    async fn get_registry_overview(
        &self,
        req: Request<GetRegistryOverviewRequest>,
    ) -> Result<Response<GetRegistryOverviewResponse>, Status> {
        let req = req.into_inner();
        required("name", &req.name)?;
        let spaces = if req.only_spaces {
            Spaces::Only(req.spaces.into_iter().collect())
        } else if !req.space.is_empty() {
            Spaces::one(&req.space)
        } else {
            Spaces::All
        };
        let overview = self.registries.overview(&req.name, &spaces).await?;
        Ok(Response::new(GetRegistryOverviewResponse {
            overview: Some(overview),
        }))
    }

    async fn get_platform_overview(
        &self,
        _req: Request<GetPlatformOverviewRequest>,
    ) -> Result<Response<GetPlatformOverviewResponse>, Status> {
        let (overview, registries) = self.registries.platform_overview().await?;
        Ok(Response::new(GetPlatformOverviewResponse {
            overview: Some(overview),
            registries,
        }))
    }

    async fn list_repositories(
        &self,
        req: Request<ListRepositoriesRequest>,
    ) -> Result<Response<ListRepositoriesResponse>, Status> {
        let req = req.into_inner();
        required("registry", &req.registry)?;
        let (repositories, next_page_token) = self
            .registries
            .repositories(
                &req.registry,
                &req.space,
                page_size(req.page_size),
                &req.page_token,
            )
            .await?;
        Ok(Response::new(ListRepositoriesResponse {
            repositories,
            next_page_token,
        }))
    }

    async fn list_artifacts(
        &self,
        req: Request<ListArtifactsRequest>,
    ) -> Result<Response<ListArtifactsResponse>, Status> {
        let req = req.into_inner();
        required("registry", &req.registry)?;
        required("repository", &req.repository)?;
        let (artifacts, next_page_token) = self
            .registries
            .artifacts(
                &req.registry,
                &req.repository,
                page_size(req.page_size),
                &req.page_token,
            )
            .await?;
        Ok(Response::new(ListArtifactsResponse {
            artifacts,
            next_page_token,
        }))
    }

    async fn rotate_hook_secret(
        &self,
        req: Request<RotateHookSecretRequest>,
    ) -> Result<Response<RotateHookSecretResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        let secret = self
            .registries
            .rotate_hook_secret(&r.registry, &r.secret)
            .await?;
        Ok(Response::new(RotateHookSecretResponse { secret }))
    }
}

#[tonic::async_trait]
impl RegistryProvisioningService for RegistryApi {
    async fn ensure_project(
        &self,
        req: Request<EnsureProjectRequest>,
    ) -> Result<Response<EnsureProjectResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("project", &r.project)?;
        let harbor = self
            .registries
            .ensure_project(&r.registry, &r.project, r.public, r.quota_bytes)
            .await?;
        Ok(Response::new(EnsureProjectResponse { harbor }))
    }

    async fn remove_project(
        &self,
        req: Request<RemoveProjectRequest>,
    ) -> Result<Response<RemoveProjectResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("project", &r.project)?;
        self.registries
            .remove_project(&r.registry, &r.project)
            .await?;
        Ok(Response::new(RemoveProjectResponse {}))
    }

    async fn sync_workspace_robot(
        &self,
        req: Request<SyncWorkspaceRobotRequest>,
    ) -> Result<Response<SyncWorkspaceRobotResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("workspace", &r.workspace)?;
        let robot = self
            .registries
            .sync_robot(&r.registry, &r.workspace, &r.projects)
            .await?;
        Ok(Response::new(SyncWorkspaceRobotResponse { robot }))
    }

    async fn list_robot_credentials(
        &self,
        req: Request<ListRobotCredentialsRequest>,
    ) -> Result<Response<ListRobotCredentialsResponse>, Status> {
        let r = req.into_inner();
        required("workspace", &r.workspace)?;
        let credentials = self.registries.robot_credentials(&r.workspace).await?;
        Ok(Response::new(ListRobotCredentialsResponse { credentials }))
    }

    async fn discover_spaces(
        &self,
        req: Request<DiscoverSpacesRequest>,
    ) -> Result<Response<DiscoverSpacesResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        let spaces = self
            .registries
            .discover_spaces(&r.registry)
            .await?
            .into_iter()
            .map(|(name, public)| DiscoveredSpace { name, public })
            .collect();
        Ok(Response::new(DiscoverSpacesResponse { spaces }))
    }

    async fn verify_hook_secret(
        &self,
        req: Request<VerifyHookSecretRequest>,
    ) -> Result<Response<VerifyHookSecretResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        let valid = self
            .registries
            .verify_hook_secret(&r.registry, &r.secret)
            .await?;
        Ok(Response::new(VerifyHookSecretResponse { valid }))
    }

    async fn get_registry_access(
        &self,
        req: Request<GetRegistryAccessRequest>,
    ) -> Result<Response<GetRegistryAccessResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        let a = self.registries.access(&r.registry).await?;
        Ok(Response::new(GetRegistryAccessResponse {
            url: a.url,
            insecure: a.insecure,
            kind: a.kind,
            credential: a.credential.map(|c| Credential {
                username: c.username,
                password: c.password,
            }),
            berth_token_service: a.berth_token_service,
        }))
    }
}
