//! The space service's gRPC servers: thin handlers over [`Tenancy`].

use berth_error::ApiError;
use berth_proto::v1::access_service_server::AccessService;
use berth_proto::v1::binding_service_server::BindingService;
use berth_proto::v1::space_service_server::SpaceService;
use berth_proto::v1::workspace_service_server::WorkspaceService;
use berth_proto::v1::*;
use tonic::{Request, Response, Status};

use crate::tenancy::{page_size, Tenancy};

#[derive(Clone)]
pub struct SpaceApi {
    pub tenancy: Tenancy,
}

fn required(field: &str, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "is required").into());
    }
    Ok(())
}

#[tonic::async_trait]
impl SpaceService for SpaceApi {
    async fn create_space(
        &self,
        req: Request<CreateSpaceRequest>,
    ) -> Result<Response<CreateSpaceResponse>, Status> {
        let space = self.tenancy.create_space(req.into_inner()).await?;
        Ok(Response::new(CreateSpaceResponse { space: Some(space) }))
    }

    async fn get_space(
        &self,
        req: Request<GetSpaceRequest>,
    ) -> Result<Response<GetSpaceResponse>, Status> {
        let r = req.into_inner();
        let space = self.tenancy.get_space(&r.registry, &r.name).await?;
        Ok(Response::new(GetSpaceResponse { space: Some(space) }))
    }

    async fn list_spaces(
        &self,
        req: Request<ListSpacesRequest>,
    ) -> Result<Response<ListSpacesResponse>, Status> {
        let r = req.into_inner();
        let mut spaces = self.tenancy.list_spaces(&r.registry).await?;
        let key = |s: &Space| format!("{}/{}", s.registry, s.name);
        spaces.retain(|s| key(s) > r.page_token);
        let size = page_size(r.page_size);
        let more = spaces.len() > size;
        spaces.truncate(size);
        let next_page_token = if more {
            spaces.last().map(key).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListSpacesResponse {
            spaces,
            next_page_token,
        }))
    }

    async fn update_space(
        &self,
        req: Request<UpdateSpaceRequest>,
    ) -> Result<Response<UpdateSpaceResponse>, Status> {
        let space = self.tenancy.update_space(req.into_inner()).await?;
        Ok(Response::new(UpdateSpaceResponse { space: Some(space) }))
    }

    async fn delete_space(
        &self,
        req: Request<DeleteSpaceRequest>,
    ) -> Result<Response<DeleteSpaceResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .delete_space(&r.registry, &r.name, r.keep_project)
            .await?;
        Ok(Response::new(DeleteSpaceResponse {}))
    }

    async fn import_spaces(
        &self,
        req: Request<ImportSpacesRequest>,
    ) -> Result<Response<ImportSpacesResponse>, Status> {
        let imported = self
            .tenancy
            .import_spaces(&req.into_inner().registry)
            .await?;
        Ok(Response::new(ImportSpacesResponse { imported }))
    }
}

#[tonic::async_trait]
impl WorkspaceService for SpaceApi {
    async fn create_workspace(
        &self,
        req: Request<CreateWorkspaceRequest>,
    ) -> Result<Response<CreateWorkspaceResponse>, Status> {
        let r = req.into_inner();
        let workspace = self
            .tenancy
            .create_workspace(&r.name, &r.description)
            .await?;
        Ok(Response::new(CreateWorkspaceResponse {
            workspace: Some(workspace),
        }))
    }

    async fn get_workspace(
        &self,
        req: Request<GetWorkspaceRequest>,
    ) -> Result<Response<GetWorkspaceResponse>, Status> {
        let workspace = self.tenancy.get_workspace(&req.into_inner().name).await?;
        Ok(Response::new(GetWorkspaceResponse {
            workspace: Some(workspace),
        }))
    }

    async fn list_workspaces(
        &self,
        req: Request<ListWorkspacesRequest>,
    ) -> Result<Response<ListWorkspacesResponse>, Status> {
        let r = req.into_inner();
        let (workspaces, next_page_token) = self
            .tenancy
            .list_workspaces(page_size(r.page_size), &r.page_token)
            .await?;
        Ok(Response::new(ListWorkspacesResponse {
            workspaces,
            next_page_token,
        }))
    }

    async fn delete_workspace(
        &self,
        req: Request<DeleteWorkspaceRequest>,
    ) -> Result<Response<DeleteWorkspaceResponse>, Status> {
        let r = req.into_inner();
        self.tenancy.delete_workspace(&r.name, r.cascade).await?;
        Ok(Response::new(DeleteWorkspaceResponse {}))
    }

    async fn add_namespace(
        &self,
        req: Request<AddNamespaceRequest>,
    ) -> Result<Response<AddNamespaceResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .add_namespace(&r.workspace, &r.namespace)
            .await?;
        Ok(Response::new(AddNamespaceResponse {}))
    }

    async fn remove_namespace(
        &self,
        req: Request<RemoveNamespaceRequest>,
    ) -> Result<Response<RemoveNamespaceResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .remove_namespace(&r.workspace, &r.namespace)
            .await?;
        Ok(Response::new(RemoveNamespaceResponse {}))
    }

    async fn set_member(
        &self,
        req: Request<SetMemberRequest>,
    ) -> Result<Response<SetMemberResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .set_member(&r.workspace, &r.principal, &r.role)
            .await?;
        Ok(Response::new(SetMemberResponse {}))
    }

    async fn remove_member(
        &self,
        req: Request<RemoveMemberRequest>,
    ) -> Result<Response<RemoveMemberResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .remove_member(&r.workspace, &r.principal)
            .await?;
        Ok(Response::new(RemoveMemberResponse {}))
    }

    async fn get_namespace(
        &self,
        req: Request<GetNamespaceRequest>,
    ) -> Result<Response<GetNamespaceResponse>, Status> {
        let r = req.into_inner();
        required("namespace", &r.namespace)?;
        let workspace = self
            .tenancy
            .workspace_of(&r.namespace)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "namespace {:?} belongs to no workspace",
                    r.namespace
                ))
            })?;
        Ok(Response::new(GetNamespaceResponse {
            namespace: r.namespace,
            workspace,
        }))
    }

    async fn list_roles(
        &self,
        req: Request<ListRolesRequest>,
    ) -> Result<Response<ListRolesResponse>, Status> {
        let r = req.into_inner();
        required("principal", &r.principal)?;
        let roles = self.tenancy.roles_of(&r.principal).await?;
        Ok(Response::new(ListRolesResponse { roles }))
    }
}

#[tonic::async_trait]
impl BindingService for SpaceApi {
    async fn bind(&self, req: Request<BindRequest>) -> Result<Response<BindResponse>, Status> {
        let r = req.into_inner();
        let binding = self
            .tenancy
            .bind(&r.registry, &r.space, &r.workspace, r.push)
            .await?;
        Ok(Response::new(BindResponse {
            binding: Some(binding),
        }))
    }

    async fn unbind(
        &self,
        req: Request<UnbindRequest>,
    ) -> Result<Response<UnbindResponse>, Status> {
        let r = req.into_inner();
        self.tenancy
            .unbind(&r.registry, &r.space, &r.workspace)
            .await?;
        Ok(Response::new(UnbindResponse {}))
    }

    async fn list_bindings(
        &self,
        req: Request<ListBindingsRequest>,
    ) -> Result<Response<ListBindingsResponse>, Status> {
        let r = req.into_inner();
        let bindings = self.tenancy.list_bindings(&r.registry, &r.space).await?;
        Ok(Response::new(ListBindingsResponse { bindings }))
    }
}

#[tonic::async_trait]
impl AccessService for SpaceApi {
    async fn check_pull(
        &self,
        req: Request<CheckPullRequest>,
    ) -> Result<Response<CheckPullResponse>, Status> {
        let r = req.into_inner();
        required("namespace", &r.namespace)?;
        required("image", &r.image)?;
        let d = self
            .tenancy
            .check_pull_as(&r.namespace, &r.image, r.allow_unknown_namespace)
            .await?;
        Ok(Response::new(CheckPullResponse {
            allowed: d.allowed,
            reason: d.reason,
            gate: d.gate,
        }))
    }

    async fn grant_actions(
        &self,
        req: Request<GrantActionsRequest>,
    ) -> Result<Response<GrantActionsResponse>, Status> {
        let r = req.into_inner();
        required("registry", &r.registry)?;
        required("repository", &r.repository)?;
        let subject = match (r.namespace.is_empty(), r.principal.is_empty()) {
            (false, true) => crate::access::Subject::Namespace(r.namespace),
            (true, false) => crate::access::Subject::Principal {
                name: r.principal,
                platform_admin: r.platform_admin,
            },
            _ => {
                return Err(ApiError::invalid(
                    "namespace",
                    "exactly one of namespace and principal is required",
                )
                .into())
            }
        };
        let (actions, reason) = self
            .tenancy
            .grant(&r.registry, &r.repository, &subject, &r.actions)
            .await?;
        // Platform admins pull past gates (to inspect what a gate holds back); everyone else's
        // pull of a gated space waits on the scan service's verdict for the repository.
        let gate = if actions.iter().any(|a| a == "pull" || a == "*") && !r.platform_admin {
            self.tenancy.gate_of(&r.registry, &r.repository, "").await?
        } else {
            None
        };
        Ok(Response::new(GrantActionsResponse {
            actions,
            reason,
            gate,
        }))
    }

    async fn list_visible_images(
        &self,
        req: Request<ListVisibleImagesRequest>,
    ) -> Result<Response<ListVisibleImagesResponse>, Status> {
        let r = req.into_inner();
        required("namespace", &r.namespace)?;
        let (repositories, next_page_token) = self
            .tenancy
            .visible_images(&r.namespace, page_size(r.page_size), &r.page_token)
            .await?;
        Ok(Response::new(ListVisibleImagesResponse {
            repositories,
            next_page_token,
        }))
    }
}
