//! The public gRPC front of the tenancy operations: the same [`crate::ops`] as HTTP/JSON.
//! Internal helpers of these services (`GetNamespace`, `ListRoles`, `GrantActions`) are served
//! with the same authorization: a namespace to its workspace's members, roles to their principal,
//! grants to platform admins.

use berth_proto::v1::access_service_server::AccessService;
use berth_proto::v1::binding_service_server::BindingService;
use berth_proto::v1::space_service_server::SpaceService;
use berth_proto::v1::workspace_service_server::WorkspaceService;
use berth_proto::v1::*;
use tonic::{Request, Response, Status};

use crate::authz::{authorize, Action, Owner};
use crate::grpc::PublicApi;
use crate::ops;

#[tonic::async_trait]
impl WorkspaceService for PublicApi {
    async fn create_workspace(
        &self,
        req: Request<CreateWorkspaceRequest>,
    ) -> Result<Response<CreateWorkspaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let workspace = ops::create_workspace(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(CreateWorkspaceResponse {
            workspace: Some(workspace),
        }))
    }

    async fn get_workspace(
        &self,
        req: Request<GetWorkspaceRequest>,
    ) -> Result<Response<GetWorkspaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let workspace = ops::get_workspace(&self.state, &p, &req.into_inner().name).await?;
        Ok(Response::new(GetWorkspaceResponse {
            workspace: Some(workspace),
        }))
    }

    async fn list_workspaces(
        &self,
        req: Request<ListWorkspacesRequest>,
    ) -> Result<Response<ListWorkspacesResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_workspaces(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn delete_workspace(
        &self,
        req: Request<DeleteWorkspaceRequest>,
    ) -> Result<Response<DeleteWorkspaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::delete_workspace(&self.state, &p, &r.name, r.cascade).await?;
        Ok(Response::new(DeleteWorkspaceResponse {}))
    }

    async fn add_namespace(
        &self,
        req: Request<AddNamespaceRequest>,
    ) -> Result<Response<AddNamespaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::add_namespace(&self.state, &p, &r.workspace, &r.namespace).await?;
        Ok(Response::new(AddNamespaceResponse {}))
    }

    async fn remove_namespace(
        &self,
        req: Request<RemoveNamespaceRequest>,
    ) -> Result<Response<RemoveNamespaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::remove_namespace(&self.state, &p, &r.workspace, &r.namespace).await?;
        Ok(Response::new(RemoveNamespaceResponse {}))
    }

    async fn set_member(
        &self,
        req: Request<SetMemberRequest>,
    ) -> Result<Response<SetMemberResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::set_member(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(SetMemberResponse {}))
    }

    async fn remove_member(
        &self,
        req: Request<RemoveMemberRequest>,
    ) -> Result<Response<RemoveMemberResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::remove_member(&self.state, &p, &r.workspace, &r.principal).await?;
        Ok(Response::new(RemoveMemberResponse {}))
    }

    async fn list_roles(
        &self,
        req: Request<ListRolesRequest>,
    ) -> Result<Response<ListRolesResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        if r.principal != p.name {
            authorize(
                &p,
                Action::Admin,
                Owner::Platform,
                "another principal's roles",
            )?;
        }
        let roles = self
            .state
            .space
            .workspaces
            .clone()
            .list_roles(r)
            .await?
            .into_inner();
        Ok(Response::new(roles))
    }

    async fn get_namespace(
        &self,
        req: Request<GetNamespaceRequest>,
    ) -> Result<Response<GetNamespaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let namespace = req.into_inner().namespace;
        let workspace = ops::namespace_workspace(&self.state, &p, &namespace).await?;
        Ok(Response::new(GetNamespaceResponse {
            namespace,
            workspace,
        }))
    }
}

#[tonic::async_trait]
impl SpaceService for PublicApi {
    async fn create_space(
        &self,
        req: Request<CreateSpaceRequest>,
    ) -> Result<Response<CreateSpaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let space = ops::create_space(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(CreateSpaceResponse { space: Some(space) }))
    }

    async fn get_space(
        &self,
        req: Request<GetSpaceRequest>,
    ) -> Result<Response<GetSpaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let space = ops::get_space(&self.state, &p, &r.registry, &r.name).await?;
        Ok(Response::new(GetSpaceResponse { space: Some(space) }))
    }

    async fn list_spaces(
        &self,
        req: Request<ListSpacesRequest>,
    ) -> Result<Response<ListSpacesResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_spaces(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn update_space(
        &self,
        req: Request<UpdateSpaceRequest>,
    ) -> Result<Response<UpdateSpaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let space = ops::update_space(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(UpdateSpaceResponse { space: Some(space) }))
    }

    async fn delete_space(
        &self,
        req: Request<DeleteSpaceRequest>,
    ) -> Result<Response<DeleteSpaceResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        ops::delete_space(&self.state, &p, &r.registry, &r.name).await?;
        Ok(Response::new(DeleteSpaceResponse {}))
    }

    async fn import_spaces(
        &self,
        req: Request<ImportSpacesRequest>,
    ) -> Result<Response<ImportSpacesResponse>, Status> {
        let p = self.principal(&req).await?;
        let imported = ops::import_spaces(&self.state, &p, &req.into_inner().registry).await?;
        Ok(Response::new(ImportSpacesResponse { imported }))
    }
}

#[tonic::async_trait]
impl BindingService for PublicApi {
    async fn bind(&self, req: Request<BindRequest>) -> Result<Response<BindResponse>, Status> {
        let p = self.principal(&req).await?;
        let binding = ops::bind(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(BindResponse {
            binding: Some(binding),
        }))
    }

    async fn unbind(
        &self,
        req: Request<UnbindRequest>,
    ) -> Result<Response<UnbindResponse>, Status> {
        let p = self.principal(&req).await?;
        ops::unbind(&self.state, &p, req.into_inner()).await?;
        Ok(Response::new(UnbindResponse {}))
    }

    async fn list_bindings(
        &self,
        req: Request<ListBindingsRequest>,
    ) -> Result<Response<ListBindingsResponse>, Status> {
        let p = self.principal(&req).await?;
        let r = req.into_inner();
        let bindings = ops::list_bindings(&self.state, &p, &r.registry, &r.space).await?;
        Ok(Response::new(ListBindingsResponse { bindings }))
    }
}

#[tonic::async_trait]
impl AccessService for PublicApi {
    async fn check_pull(
        &self,
        req: Request<CheckPullRequest>,
    ) -> Result<Response<CheckPullResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::check_pull(&self.state, &p, req.into_inner()).await?,
        ))
    }

    async fn grant_actions(
        &self,
        req: Request<GrantActionsRequest>,
    ) -> Result<Response<GrantActionsResponse>, Status> {
        let p = self.principal(&req).await?;
        authorize(&p, Action::Admin, Owner::Platform, "asking for grants")?;
        let r = self
            .state
            .space
            .access
            .clone()
            .grant_actions(req.into_inner())
            .await?;
        Ok(Response::new(r.into_inner()))
    }

    async fn list_visible_images(
        &self,
        req: Request<ListVisibleImagesRequest>,
    ) -> Result<Response<ListVisibleImagesResponse>, Status> {
        let p = self.principal(&req).await?;
        Ok(Response::new(
            ops::list_visible_images(&self.state, &p, req.into_inner()).await?,
        ))
    }
}
