//! Registry tokens for the Docker token service: each requested scope answered with the
//! actions the access rule grants the caller, signed for the registry (`service`) alone.

use berth_auth::registry_token::{parse_scope, Access};
use berth_error::{ApiError, ApiResult};
use berth_proto::v1::GrantActionsRequest;

use super::space_error;
use crate::authn::NAMESPACE_PREFIX;
use crate::state::AppState;

/// How long an issued registry token is valid.
pub const REGISTRY_TOKEN_TTL_SECS: i64 = 300;

/// Who asks the token service.
pub enum TokenCaller {
    /// A namespace's pull credential.
    Namespace(String),
    /// A person's API or login token.
    Principal { name: String, platform_admin: bool },
}

/// A signed token granting `caller` what the access rule allows of `scopes` at `service`.
pub async fn issue_registry_token(
    s: &AppState,
    caller: &TokenCaller,
    service: &str,
    scopes: &[String],
) -> ApiResult<String> {
    let mut access = Vec::new();
    for one in scopes.iter().flat_map(|s| s.split(' ')) {
        let Access {
            kind,
            name,
            actions,
        } = parse_scope(one).ok_or_else(|| {
            ApiError::invalid("scope", format!("{one:?} is not type:name:actions"))
        })?;
        let granted = match (caller, kind.as_str()) {
            (
                TokenCaller::Principal {
                    platform_admin: true,
                    ..
                },
                _,
            ) => actions,
            (_, "repository") => {
                let (namespace, principal) = match caller {
                    TokenCaller::Namespace(ns) => (ns.clone(), String::new()),
                    TokenCaller::Principal { name, .. } => (String::new(), name.clone()),
                };
                let req = GrantActionsRequest {
                    registry: service.into(),
                    repository: name.clone(),
                    namespace,
                    principal,
                    platform_admin: false,
                    actions,
                };
                let r = s
                    .space
                    .access
                    .clone()
                    .grant_actions(req)
                    .await
                    .map_err(space_error)?
                    .into_inner();
                tracing::debug!(registry = %service, repository = %name, granted = ?r.actions, reason = %r.reason, "token scope decided");
                let writes = r.actions.iter().any(|a| a == "push" || a == "*");
                match &r.gate {
                    // A gated space: pull only while the repository's reports pass the gate.
                    // Writers keep pull (a push needs it, and a fix must be pushable).
                    Some(gate) if !writes => {
                        let caller = crate::authn::Principal {
                            name: "token-service".into(),
                            platform_admin: false,
                            roles: Default::default(),
                        };
                        let verdict = super::evaluate_gate(s, &caller, gate).await?;
                        if verdict.allowed {
                            r.actions
                        } else {
                            tracing::info!(registry = %service, repository = %name, reason = %verdict.reason, "pull withheld by the severity gate");
                            r.actions.into_iter().filter(|a| a != "pull").collect()
                        }
                    }
                    _ => r.actions,
                }
            }
            // Catalog listing and other registry-wide scopes are the platform's.
            _ => Vec::new(),
        };
        access.push(Access {
            kind,
            name,
            actions: granted,
        });
    }
    let subject = match caller {
        TokenCaller::Namespace(ns) => format!("{NAMESPACE_PREFIX}{ns}"),
        TokenCaller::Principal { name, .. } => name.clone(),
    };
    metrics::counter!("berth_registry_tokens_issued_total").increment(1);
    Ok(s.token_signer
        .sign(&subject, service, &access, REGISTRY_TOKEN_TTL_SECS))
}
