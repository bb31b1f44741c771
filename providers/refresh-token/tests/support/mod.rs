//! A scripted in-memory transport for the provider's tests.

// Test support: each test binary uses part of it, and a failed lock or script is a test bug.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_pass_by_value
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Result, Transport};

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: http::Method,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    /// The form fields, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Answers with scripted responses in order (the last one repeats) and records every request.
#[derive(Debug, Default)]
pub struct Scripted {
    replies: Mutex<VecDeque<(u16, &'static str, String)>>,
    seen: Mutex<Vec<Seen>>,
}

impl Scripted {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn reply(self: &Arc<Self>, status: u16, body: serde_json::Value) -> Arc<Self> {
        self.reply_raw(status, "application/json", body.to_string())
    }

    pub fn reply_raw(
        self: &Arc<Self>,
        status: u16,
        content_type: &'static str,
        body: impl Into<String>,
    ) -> Arc<Self> {
        self.replies
            .lock()
            .unwrap()
            .push_back((status, content_type, body.into()));
        Arc::clone(self)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[async_trait]
impl Transport for Scripted {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        self.seen.lock().unwrap().push(Seen {
            method: request.method().clone(),
            uri: request.uri().to_string(),
            headers: request.headers().clone(),
            body: request.body().to_vec(),
        });
        let (status, content_type, body) = {
            let mut replies = self.replies.lock().unwrap();
            if replies.len() > 1 {
                replies.pop_front().unwrap()
            } else {
                replies.front().cloned().expect("no reply scripted")
            }
        };
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Bytes::from(body))
            .unwrap())
    }
}

pub mod reauth;
