//! The message envelope.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A bus message. `kind` is also its routing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: DateTime<Utc>,
    /// W3C trace context (`traceparent`, `tracestate`) of the publisher.
    #[serde(default)]
    pub trace: HashMap<String, String>,
    pub payload: serde_json::Value,
    /// Delivery attempt, 1 for the first (travels as a header, not in the body).
    #[serde(skip, default = "first_attempt")]
    pub attempt: u32,
}

fn first_attempt() -> u32 {
    1
}

impl Message {
    /// A new message of `kind` carrying `payload` and the current trace context.
    pub fn new(kind: &str, payload: &impl Serialize) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.to_string(),
            time: Utc::now(),
            trace: berth_telemetry::propagation::current_context_map(),
            payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            attempt: 1,
        }
    }

    /// Decodes the payload.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a message always serializes")
    }

    pub fn from_bytes(bytes: &[u8], attempt: u32) -> Result<Self, serde_json::Error> {
        let mut m: Message = serde_json::from_slice(bytes)?;
        m.attempt = attempt.max(1);
        Ok(m)
    }

    /// A span for handling this message, child of the publisher's trace.
    pub fn span(&self, queue: &str) -> tracing::Span {
        let span = tracing::info_span!("job", queue, kind = %self.kind, id = %self.id, attempt = self.attempt);
        berth_telemetry::propagation::adopt_from_map(&span, &self.trace);
        span
    }
}
