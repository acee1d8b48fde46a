//! The internal service credential: a shared secret sent as `authorization: Bearer …` on every
//! call between Berth's services. Internal servers refuse calls without it.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Status};

/// User name of Berth's own services at its registry token service (password: the internal
/// credential), so Berth reaches registries that delegate their auth to it.
pub const TOKEN_SERVICE_USER: &str = "berth-internal";

/// Metadata key carrying the calling user's principal, for audit and logs downstream.
pub const PRINCIPAL_KEY: &str = "x-berth-principal";

/// Bytes of a principal's name sent escaped (`%XX`): metadata values are visible ASCII, and a
/// name may be anything (`élodie`).
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%').add(b' ');

/// The `PRINCIPAL_KEY` value naming `name`.
pub fn principal_value(name: &str) -> MetadataValue<Ascii> {
    percent_encoding::utf8_percent_encode(name, ESCAPED)
        .to_string()
        .parse()
        .expect("escaped to visible ASCII")
}

/// The principal a call names (empty when it names none).
pub fn principal_of(metadata: &tonic::metadata::MetadataMap) -> String {
    metadata
        .get(PRINCIPAL_KEY)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

/// Verifies the credential on incoming calls (a tonic server interceptor).
#[derive(Clone)]
pub struct Verifier {
    expected: Option<MetadataValue<Ascii>>,
}

impl Verifier {
    /// `None` accepts every call; only for tests of a single service.
    pub fn new(token: Option<&str>) -> Self {
        Self {
            expected: token.map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .expect("internal token is ASCII")
            }),
        }
    }
}

impl tonic::service::Interceptor for Verifier {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        match request.metadata().get("authorization") {
            Some(got) if constant_time_eq(got.as_bytes(), expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "invalid internal service credential",
            )),
            None => Err(Status::unauthenticated(
                "missing internal service credential",
            )),
        }
    }
}

/// Attaches the credential, the caller's principal and the trace context to outgoing calls.
#[derive(Clone)]
pub struct Attacher {
    value: Option<MetadataValue<Ascii>>,
}

impl Attacher {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            value: token.and_then(|t| format!("Bearer {t}").parse().ok()),
        }
    }
}

impl tonic::service::Interceptor for Attacher {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = berth_telemetry::propagation::inject_grpc(request);
        if let Some(v) = &self.value {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn any_principal_name_travels_intact() {
        for name in ["alice", "élodie", "a b%c", "名前"] {
            let mut m = tonic::metadata::MetadataMap::new();
            m.insert(super::PRINCIPAL_KEY, super::principal_value(name));
            assert_eq!(super::principal_of(&m), name);
        }
    }

    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn refuses_missing_and_wrong_credentials() {
        let mut v = Verifier::new(Some("s3cret-internal-token"));
        let err = v.call(Request::new(())).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let mut wrong = Request::new(());
        wrong
            .metadata_mut()
            .insert("authorization", "Bearer nope".parse().unwrap());
        assert!(v.call(wrong).is_err());
        let ok = Attacher::new(Some("s3cret-internal-token"))
            .call(Request::new(()))
            .unwrap();
        assert!(v.call(ok).is_ok());
    }
}
