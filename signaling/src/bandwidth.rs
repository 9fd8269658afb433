//! What the bandwidth allocator does in a room, for its hosts (`GET
//! /api/rooms/{id}/bandwidth`, authorised by the host link's secret) and, summed over all
//! rooms, for `/metrics`. Participants appear by id only: the host's page knows the names.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::http::api_error;
use crate::protocol::Role;
use crate::registry::Grant;

#[derive(Debug, Serialize)]
struct RoomBandwidth {
    /// The room's share of the server's egress budget (and its own limit), bit/s.
    budget_bps: Option<u64>,
    subscribers: Vec<Subscriber>,
}

#[derive(Debug, Serialize)]
struct Subscriber {
    participant: String,
    estimate_bps: Option<u64>,
    allocated_bps: u64,
    wanted_bps: u64,
    limited: bool,
    audio_only: bool,
    videos: Vec<Video>,
}

#[derive(Debug, Serialize)]
struct Video {
    participant: String,
    source: &'static str,
    shown_height: Option<u32>,
    /// The layer forwarded: its index (0 smallest) and height.
    layer: Option<Layer>,
    paused: bool,
}

#[derive(Debug, Serialize)]
struct Layer {
    index: u8,
    height: u32,
    /// What it sends (packets with their overhead), bit/s.
    bps: u64,
}

/// `GET /api/rooms/{id}/bandwidth` with `Authorization: Bearer <host link secret>`.
pub async fn room_bandwidth(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(entry) = state.registry.get(&id) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "unknown_room",
            "this room has ended or never existed",
        );
    };
    if !matches!(entry.grant_for(secret), Some(Grant::Role(Role::Host))) {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the host link's secret is needed (Authorization: Bearer <secret>)",
        );
    }
    let report = state.sfu.report(&id.as_str().into()).unwrap_or_default();
    let body = RoomBandwidth {
        budget_bps: report.budget,
        subscribers: report
            .subscribers
            .into_iter()
            .map(|s| Subscriber {
                participant: s.participant.to_string(),
                estimate_bps: s.estimate,
                allocated_bps: s.allocated,
                wanted_bps: s.wanted,
                limited: s.limited,
                audio_only: s.audio_only,
                videos: s
                    .videos
                    .into_iter()
                    .map(|v| Video {
                        participant: v.publisher.to_string(),
                        source: v.source.as_str(),
                        shown_height: v.shown,
                        layer: v.layer.map(|l| Layer {
                            index: l.index,
                            height: l.height,
                            bps: l.bitrate,
                        }),
                        paused: v.paused,
                    })
                    .collect(),
            })
            .collect(),
    };
    Json(body).into_response()
}

/// The `/metrics` lines of the allocator: gauges over every room's latest decision.
pub fn metrics_lines(state: &AppState) -> String {
    let b = state.sfu.bandwidth();
    let mut lines = vec![
        ("aula_bandwidth_subscribers", b.subscribers),
        ("aula_bandwidth_subscribers_estimated", b.estimated),
        ("aula_bandwidth_estimate_bps_sum", b.estimate_sum),
        ("aula_bandwidth_allocated_bps", b.allocated),
        ("aula_bandwidth_wanted_bps", b.wanted),
        ("aula_bandwidth_subscribers_limited", b.limited),
        ("aula_bandwidth_subscribers_audio_only", b.audio_only),
        ("aula_bandwidth_videos_paused", b.paused),
    ];
    if let Some(limit) = b.egress_limit {
        lines.push(("aula_bandwidth_egress_limit_bps", limit));
    }
    let mut out = String::new();
    for (name, value) in lines {
        out.push_str(&format!("{name} {value}\n"));
    }
    for (layer, count) in b.layers.iter().enumerate() {
        out.push_str(&format!(
            "aula_bandwidth_videos_forwarded{{layer=\"{layer}\"}} {count}\n"
        ));
    }
    out
}
