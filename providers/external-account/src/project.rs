//! The project an external account belongs to, as the reference's `get_project_id`: Cloud
//! Resource Manager's `projects.get` for the workload pool's project number (or a workforce
//! pool's user project), called once with the credentials' own token and remembered.

use bytes::Bytes;
use credkit_core::{Error, ErrorKind, TokenSource as _};
use secrecy::ExposeSecret as _;

use crate::credentials::ExternalAccountCredentials;

/// More than this is not a project resource.
const MAX_PROJECT_BYTES: usize = 64 * 1024;

impl ExternalAccountCredentials {
    /// The project ID of the pool's project (the audience's project number, else the workforce
    /// pool user project), from Cloud Resource Manager: `GET {base}/v1/projects/{number}` with
    /// a token of these credentials. Asked once; the answer is remembered.
    ///
    /// `None` when the audience names no project number and there is no user project, or when
    /// Cloud Resource Manager does not answer 200 (the principal may lack
    /// `resourcemanager.projects.get`), as the reference.
    ///
    /// # Errors
    ///
    /// When no token could be had, or the request could not be sent.
    pub async fn project_id(&self) -> Result<Option<String>, Error> {
        if let Some(known) = self
            .inner
            .project_id
            .lock()
            .ok()
            .and_then(|known| known.clone())
        {
            return Ok(Some(known));
        }
        let Some(number) = self
            .project_number()
            .or(self.workforce_pool_user_project())
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        if number.contains(['/', '?', '#', '%']) || number.chars().any(char::is_control) {
            return Ok(None);
        }
        let token = self.fetch_token().await?;
        let url = format!("{}/v1/projects/{number}", self.inner.resource_manager_url);
        let mut request = http::Request::get(url.as_str()).body(Bytes::new())?;
        let mut value =
            http::HeaderValue::from_str(&format!("Bearer {}", token.secret().expose_secret()))
                .map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidResponse,
                        "the token cannot be sent in a header",
                    )
                })?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
        if let Some(project) = &self.inner.quota_project
            && let Ok(value) = http::HeaderValue::from_str(project)
        {
            request.headers_mut().insert("x-goog-user-project", value);
        }
        let response = self.inner.sts.client.transport.send(request).await?;
        if response.status() != http::StatusCode::OK || response.body().len() > MAX_PROJECT_BYTES {
            return Ok(None);
        }
        let project = serde_json::from_slice::<serde_json::Value>(response.body())
            .ok()
            .and_then(|json| {
                json.get("projectId")
                    .and_then(|id| id.as_str())
                    .map(str::to_owned)
            })
            .filter(|id| !id.is_empty() && !id.chars().any(char::is_control));
        if let (Some(project), Ok(mut known)) = (&project, self.inner.project_id.lock()) {
            *known = Some(project.clone());
        }
        Ok(project)
    }
}
