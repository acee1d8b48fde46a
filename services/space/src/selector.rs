//! The image selector: what a namespace may pull, as spaces → repositories → tags with digests.
//!
//! The visible spaces are those the access rule allows (public, bound to the namespace's
//! workspace) plus every repository of registries the workspace integrated itself. Their
//! contents come from the registry service. Pages hold up to `page_size` repositories, in
//! (registry, repository) order; the page token is the last `registry/repository` shown.

use berth_proto::v1::{
    ListArtifactsRequest, ListRepositoriesRequest, VisibleRepository, VisibleTag,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::directory::host_of;
use crate::directory::upstream;
use crate::entity::{binding, space};
use crate::error::{Result, SpaceError};
use crate::tenancy::{check, Tenancy};

impl Tenancy {
    /// One page of repositories `namespace` may pull, with their tags.
    pub async fn visible_images(
        &self,
        namespace: &str,
        page_size: usize,
        page_token: &str,
    ) -> Result<(Vec<VisibleRepository>, String)> {
        check("namespace", berth_error::validate::dns_label, namespace)?;
        let workspace = self.workspace_of(namespace).await?.ok_or_else(|| {
            SpaceError::NotFound(format!("namespace {namespace:?} belongs to no workspace"))
        })?;
        let bound: Vec<String> = binding::Entity::find()
            .filter(binding::Column::Workspace.eq(&workspace))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| b.space_id)
            .collect();
        let spaces = space::Entity::find()
            .filter(
                space::Column::Visibility
                    .eq("public")
                    .or(space::Column::Id.is_in(bound)),
            )
            .order_by_asc(space::Column::Registry)
            .order_by_asc(space::Column::Name)
            .all(&self.db)
            .await?;
        let registries = self.directory.all().await?;
        // (registry, space filter) pairs to list, in order: "" lists a whole registry.
        let mut sources: Vec<(String, String)> = registries
            .iter()
            .filter(|r| r.workspace == workspace)
            .map(|r| (r.name.clone(), String::new()))
            .collect();
        for s in &spaces {
            let owned_elsewhere = registries
                .iter()
                .any(|r| r.name == s.registry && !r.workspace.is_empty());
            if !owned_elsewhere {
                sources.push((s.registry.clone(), s.name.clone()));
            }
        }
        // In the order of the `registry/repository` keys the page cursor compares ("pub-x/"
        // sorts before "pub/"), so no repository is skipped across pages.
        sources.sort_by_key(|(r, s)| {
            if s.is_empty() {
                format!("{r}/")
            } else {
                format!("{r}/{s}/")
            }
        });
        let mut client = self.directory.client();
        let mut out = Vec::new();
        for (registry, space_name) in sources {
            let host = registries
                .iter()
                .find(|r| r.name == registry)
                .map(|r| host_of(&r.url))
                .unwrap_or_default();
            let mut token = String::new();
            loop {
                let page = client
                    .list_repositories(ListRepositoriesRequest {
                        registry: registry.clone(),
                        space: space_name.clone(),
                        page_size: 500,
                        page_token: token,
                    })
                    .await
                    .map_err(upstream)?
                    .into_inner();
                for repo in page.repositories {
                    let key = format!("{registry}/{}", repo.name);
                    if key.as_str() <= page_token {
                        continue;
                    }
                    if out.len() == page_size {
                        let next = out
                            .last()
                            .map(|r: &VisibleRepository| format!("{}/{}", r.registry, r.repository))
                            .unwrap_or_default();
                        return Ok((out, next));
                    }
                    let artifacts = client
                        .list_artifacts(ListArtifactsRequest {
                            registry: registry.clone(),
                            repository: repo.name.clone(),
                            page_size: 500,
                            page_token: String::new(),
                        })
                        .await
                        .map_err(upstream)?
                        .into_inner()
                        .artifacts;
                    let mut tags: Vec<VisibleTag> = artifacts
                        .into_iter()
                        .flat_map(|a| {
                            a.tags.into_iter().map(move |t| VisibleTag {
                                tag: t,
                                digest: a.digest.clone(),
                                vulnerabilities: None,
                            })
                        })
                        .collect();
                    tags.sort_by(|a, b| a.tag.cmp(&b.tag));
                    out.push(VisibleRepository {
                        registry: registry.clone(),
                        host: host.clone(),
                        space: repo.space,
                        repository: repo.name,
                        tags,
                    });
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        Ok((out, String::new()))
    }
}
