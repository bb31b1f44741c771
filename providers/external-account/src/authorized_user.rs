//! `external_account_authorized_user` credentials (the reference's module of that name).
