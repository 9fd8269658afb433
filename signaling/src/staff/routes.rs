//! The staff calls of docs/protocol.md ("Staff sign-in"): `GET /api/staff` (may this browser
//! start rooms, and as whom), `POST /api/staff/sign-in`, `POST /api/staff/sign-out` and
//! `POST /api/staff/setup` (the first account, with the one-time link's token).
//!
//! The session is a cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no other
//! site's page sends it), `Secure` when the page came over HTTPS, and as long-lived as the
//! session.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::{SetupError, SignIn};
use crate::AppState;
use crate::config::RoomCreation;
use crate::http::{api_error, client_addr, refuse_foreign_post};

/// The session cookie's name.
pub const COOKIE: &str = "aula_staff";

/// The session token in the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    let cookies = headers.get_all(header::COOKIE).into_iter();
    cookies
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in name behind the request's cookie.
pub fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<std::sync::Arc<str>> {
    state.staff.user(session_token(headers)?)
}

#[derive(Serialize)]
struct Status {
    room_creation: RoomCreation,
    user: Option<String>,
}

pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let user = signed_in(&state, &headers).map(|u| u.to_string());
    let room_creation = state.staff.mode;
    let mut response = Json(Status {
        room_creation,
        user,
    })
    .into_response();
    // Who is signed in is this browser's business only.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    name: String,
    password: String,
}

#[derive(Serialize)]
struct Welcome {
    user: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refuse_foreign_post(&state, &headers) {
        return refusal;
    }
    let Ok(creds) = serde_json::from_slice::<Credentials>(&body) else {
        let message = "send {\"name\": …, \"password\": …} as JSON";
        return api_error(StatusCode::BAD_REQUEST, "bad_request", message);
    };
    let addr = client_addr(peer.map(|Extension(ConnectInfo(a))| a), &headers);
    // Counted as the per-address caps count it: IPv6 by its /64, `exempt_networks` not.
    let counted = state.addresses.key(addr);
    let outcome = state
        .staff
        .sign_in(&creds.name, &creds.password, counted)
        .await;
    welcome_or_refusal(&state, &headers, outcome, StatusCode::OK)
}

fn welcome_or_refusal(
    state: &AppState,
    headers: &HeaderMap,
    outcome: SignIn,
    ok: StatusCode,
) -> Response {
    match outcome {
        SignIn::Welcome(token, user) => {
            let cookie = cookie(
                state,
                headers,
                token.as_str(),
                state.staff.session_lifetime().as_secs(),
            );
            let user = user.to_string();
            let mut response = (ok, Json(Welcome { user })).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        SignIn::WrongCredentials => {
            let message = "the name or the password is not right";
            api_error(StatusCode::UNAUTHORIZED, "wrong_credentials", message)
        }
        SignIn::Throttled(wait) => {
            let message = "too many wrong passwords; try again later";
            let mut response =
                api_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message);
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
            response
        }
        SignIn::Busy => {
            let message = "many sign-ins at once; try again in a moment";
            let mut response = api_error(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(2));
            response
        }
        SignIn::DirectoryUnavailable => {
            let message = "the school's directory does not answer; try again in a moment";
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "directory_unavailable",
                message,
            )
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_foreign_post(&state, &headers) {
        return refusal;
    }
    if let Some(token) = session_token(&headers) {
        state.staff.sign_out(token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = cookie(&state, &headers, "", 0);
    response.headers_mut().insert(header::SET_COOKIE, expired);
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FirstAccount {
    token: String,
    name: String,
    password: String,
}

pub async fn setup(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = refuse_foreign_post(&state, &headers) {
        return refusal;
    }
    let Ok(first) = serde_json::from_slice::<FirstAccount>(&body) else {
        let message = "send {\"token\": …, \"name\": …, \"password\": …} as JSON";
        return api_error(StatusCode::BAD_REQUEST, "bad_request", message);
    };
    match (state.staff)
        .create_first(&first.token, &first.name, &first.password)
        .await
    {
        Ok(outcome) => welcome_or_refusal(&state, &headers, outcome, StatusCode::CREATED),
        Err(SetupError::BadToken) => api_error(
            StatusCode::FORBIDDEN,
            "bad_setup_token",
            SetupError::BadToken.to_string(),
        ),
        Err(SetupError::Accounts(e)) => {
            use super::accounts::AccountsError as E;
            let code = match e {
                E::BadName => "bad_name",
                E::WeakPassword => "weak_password",
                E::Exists(_) => "name_taken",
                _ => {
                    tracing::error!(error = %e, "cannot write the accounts file");
                    let message = "the server cannot save the account; see its log";
                    return api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", message);
                }
            };
            api_error(StatusCode::BAD_REQUEST, code, e.to_string())
        }
    }
}

/// The session cookie, or with `max_age` 0 the header that deletes it.
fn cookie(state: &AppState, headers: &HeaderMap, token: &str, max_age: u64) -> HeaderValue {
    let secure = if crate::http::served_over_https(&state.config, headers) {
        "; Secure"
    } else {
        ""
    };
    let value =
        format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&value).expect("hex token and fixed attributes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; aula_staffx=2"),
        );
        assert_eq!(session_token(&h), None);
        h.append(
            header::COOKIE,
            HeaderValue::from_static("b=3;  aula_staff=abc ; c=4"),
        );
        assert_eq!(session_token(&h), Some("abc"));
    }
}
