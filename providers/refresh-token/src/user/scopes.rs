//! Scopes: what a refresh requests, and what the server granted short of it.

use std::collections::HashSet;

use super::UserCredentials;

impl UserCredentials {
    /// The scopes a refresh requests: [`scopes`](Self::scopes) when set (even empty), else
    /// [`default_scopes`](Self::default_scopes), else none. An empty list sends no `scope`
    /// parameter, so the server grants the scopes of the original consent.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_default_scopes(["email"]).build()?;
    /// assert_eq!(creds.requested_scopes(), ["email"]);
    /// let creds = creds.to_builder().with_scopes(["profile"]).build()?;
    /// assert_eq!(creds.requested_scopes(), ["profile"]);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn requested_scopes(&self) -> &[String] {
        self.config
            .scopes
            .as_deref()
            .or(self.config.default_scopes.as_deref())
            .unwrap_or_default()
    }

    /// The [`requested_scopes`](Self::requested_scopes) that are not among `granted`, in
    /// request order; empty when everything requested was granted.
    ///
    /// A shortfall is not an error: the token works for what was granted. A refresh logs the
    /// reference's warning ("Not all requested scopes were granted by the authorization server,
    /// missing scopes ...") with this list, computed against the scopes the server reported.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_scopes(["email", "profile", "drive"]).build()?;
    /// assert_eq!(creds.missing_scopes(&["profile".to_owned()]), ["email", "drive"]);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn missing_scopes(&self, granted: &[String]) -> Vec<String> {
        self.requested_scopes()
            .iter()
            .filter(|scope| !granted.contains(scope))
            .cloned()
            .collect()
    }

    /// The requested scopes the last refresh that reported its granted scopes did not grant
    /// (see [`missing_scopes`](Self::missing_scopes)); empty when nothing is missing or the
    /// server has not said what it granted.
    pub fn scope_shortfall(&self) -> Vec<String> {
        self.granted_scopes()
            .map(|granted| self.missing_scopes(&granted))
            .unwrap_or_default()
    }

    /// Always `false`: user credentials carry their scopes from consent, so no scopes are
    /// required to use them.
    pub fn requires_scopes(&self) -> bool {
        false
    }

    /// Whether every one of `scopes` is among the requested scopes (or the default scopes when
    /// none are set). An empty list is always covered.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().with_scopes(["email", "profile"]).build()?;
    /// assert!(creds.has_scopes(&["email"]));
    /// assert!(!creds.has_scopes(&["drive"]));
    /// assert!(creds.has_scopes::<&str>(&[]));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn has_scopes<S: AsRef<str>>(&self, scopes: &[S]) -> bool {
        let have: HashSet<&str> = self.requested_scopes().iter().map(String::as_str).collect();
        scopes.iter().all(|scope| have.contains(scope.as_ref()))
    }

    /// Logs the reference's warning when the server granted fewer scopes than requested.
    pub(super) fn warn_on_scope_shortfall(&self, granted: Option<&[String]>) {
        let Some(granted) = granted else { return };
        let missing = self.missing_scopes(granted);
        if !missing.is_empty() {
            tracing::warn!(
                "Not all requested scopes were granted by the authorization server, missing scopes {}.",
                missing.join(", ")
            );
        }
    }
}
