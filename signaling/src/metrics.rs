//! `GET /metrics`: the server's counters and gauges in Prometheus' text format, each family
//! with its `# HELP` and `# TYPE` (counters end in `_total`, everything else is a gauge), for
//! this machine or a scraper with the token (crate::guard).

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::api_error;
use crate::registry::Counters;
use crate::{AppState, guard};

pub async fn metrics(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(a))| a);
    if !guard::metrics_allowed(&state.config, peer, &headers) {
        Counters::bump(&state.registry.counters.metrics_refused);
        let message = "metrics are for this machine, or for a scraper with metrics_token";
        return api_error(StatusCode::FORBIDDEN, "forbidden", message);
    }
    let m = state.sfu.metrics();
    let c = m.core;
    let counters = &state.registry.counters;
    let staff = &state.staff.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let lines = [
        ("aula_rooms", state.registry.len() as u64),
        ("aula_media_rooms", c.rooms),
        ("aula_udp_datagrams_in_total", m.datagrams_in),
        ("aula_udp_bytes_in_total", m.bytes_in),
        ("aula_udp_datagrams_out_total", m.datagrams_out),
        ("aula_udp_bytes_out_total", m.bytes_out),
        ("aula_udp_send_errors_total", m.send_errors),
        (
            "aula_udp_dropped_unroutable_total",
            m.datagrams_unroutable + c.datagrams_unroutable,
        ),
        ("aula_udp_dropped_rejected_total", c.datagrams_rejected),
        ("aula_udp_dropped_queue_full_total", m.datagrams_queue_full),
        ("aula_sfu_commands_refused_total", m.commands_refused),
        ("aula_frames_forwarded_total", c.frames_forwarded),
        ("aula_rtp_packets_forwarded_total", c.packets_forwarded),
        ("aula_connection_timeouts_total", c.conn_timeouts),
        (
            "aula_rtp_packets_unannounced_layer_total",
            c.packets_unannounced,
        ),
        (
            "aula_rtp_packets_paused_layer_total",
            c.packets_paused_layer,
        ),
        ("aula_rtp_packets_empty_total", c.packets_empty),
        ("aula_rtp_packets_oversized_total", c.packets_oversized),
        ("aula_media_rooms_failed_total", c.rooms_failed),
        ("aula_layer_changes_total", c.layer_changes),
        ("aula_estimates_restarted_total", c.estimates_restarted),
        ("aula_links_overflowing_total", c.links_overflowing),
        ("aula_encodings_paused_total", c.encodings_paused),
        ("aula_encodings_resumed_total", c.encodings_resumed),
        ("aula_screen_caps_total", c.screen_caps),
        ("aula_camera_caps_total", c.camera_caps),
        ("aula_caps_ignored_total", c.caps_ignored),
        (
            "aula_frames_waiting_keyframe_total",
            c.frames_waiting_keyframe,
        ),
        ("aula_layers_cut_total", c.layers_cut),
        ("aula_cut_packets_dropped_total", c.cut_packets_dropped),
        ("aula_keyframe_requests_total", c.keyframe_requests),
        ("aula_frames_gated_total", c.frames_gated),
        ("aula_connections_failed_total", c.conns_failed),
        (
            "aula_renegotiations_failed_total",
            c.renegotiations_failed + c.publish_renegotiations_refused,
        ),
        (
            "aula_subscribe_renegotiations_failed_total",
            c.renegotiations_failed,
        ),
        (
            "aula_publish_renegotiations_refused_total",
            c.publish_renegotiations_refused,
        ),
        ("aula_ice_restarts_total", c.ice_restarts),
        (
            "aula_ice_restarts_rate_limited_total",
            c.ice_restarts_limited,
        ),
        ("aula_connections_silent_total", c.conns_silent),
        (
            "aula_views_rate_limited_total",
            load(&counters.views_limited),
        ),
        (
            "aula_announcements_held_total",
            load(&counters.announcements_held),
        ),
        (
            "aula_websockets_without_join_total",
            load(&counters.sockets_without_join),
        ),
        (
            "aula_origins_refused_total",
            load(&counters.origins_refused),
        ),
        (
            "aula_metrics_refused_total",
            load(&counters.metrics_refused),
        ),
        ("aula_hosts_refused_total", load(&counters.hosts_refused)),
        (
            "aula_http_connections_refused_total",
            load(&counters.connections_refused),
        ),
        (
            "aula_http_requests_timed_out_total",
            load(&counters.requests_timed_out),
        ),
        (
            "aula_messages_rate_limited_total",
            load(&counters.messages_dropped),
        ),
        (
            "aula_websockets_flooding_total",
            load(&counters.sockets_flooding),
        ),
        ("aula_resumes_total", load(&counters.resumes)),
        ("aula_resumes_failed_total", load(&counters.resumes_failed)),
        (
            "aula_sessions_reconnecting_total",
            load(&counters.reconnecting),
        ),
        (
            "aula_resume_grace_expired_total",
            load(&counters.resume_expired),
        ),
        ("aula_staff_sign_ins_total", load(&staff.sign_ins)),
        (
            "aula_staff_sign_ins_failed_total",
            load(&staff.sign_ins_failed),
        ),
        (
            "aula_staff_sign_ins_throttled_total",
            load(&staff.sign_ins_throttled),
        ),
        (
            "aula_staff_directory_errors_total",
            load(&staff.directory_errors),
        ),
        (
            "aula_rooms_refused_sign_in_total",
            load(&staff.rooms_refused),
        ),
    ];
    let mut body = String::new();
    for (name, value) in lines {
        body.push_str(&format!("{name} {value}\n"));
    }
    // Frames that could not be forwarded to a subscriber, by cause (docs/operations.md).
    for (cause, value) in [
        ("codec", c.frames_dropped_codec),
        ("not_sending", c.frames_dropped_not_sending),
        ("write_failed", c.frames_dropped_write_failed),
    ] {
        body.push_str(&format!(
            "aula_frames_not_forwarded_total{{cause=\"{cause}\"}} {value}\n"
        ));
    }
    // Refusals for one address's cap, by cap (docs/operations.md, "Per-address caps").
    for (cap, value) in [
        ("sockets", load(&counters.address_sockets)),
        ("connections", load(&counters.address_connections)),
        ("rooms_per_hour", load(&counters.address_rooms_per_hour)),
        ("open_rooms", load(&counters.address_open_rooms)),
        ("joins", load(&counters.address_joins)),
        ("lobby", load(&counters.address_lobby)),
    ] {
        body.push_str(&format!(
            "aula_address_refused_total{{cap=\"{cap}\"}} {value}\n"
        ));
    }
    body.push_str(&crate::tally::samples());
    body.push_str(&crate::bandwidth::metrics_lines(&state));
    body.push_str(&state.admission.metrics_lines());
    let body = annotate(&body);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// What each family means, for its `# HELP` line (docs/operations.md says more).
const HELP: &[(&str, &str)] = &[
    ("aula_rooms", "Rooms open."),
    ("aula_media_rooms", "Rooms with media state in the SFU."),
    (
        "aula_udp_datagrams_in_total",
        "UDP datagrams received on the media port.",
    ),
    (
        "aula_udp_bytes_in_total",
        "UDP bytes received on the media port.",
    ),
    (
        "aula_udp_datagrams_out_total",
        "UDP datagrams sent from the media port.",
    ),
    (
        "aula_udp_bytes_out_total",
        "UDP bytes sent from the media port.",
    ),
    ("aula_udp_send_errors_total", "UDP sends that failed."),
    (
        "aula_udp_dropped_unroutable_total",
        "Datagrams dropped: no connection they belong to.",
    ),
    (
        "aula_udp_dropped_rejected_total",
        "Datagrams dropped: their connection refused them.",
    ),
    (
        "aula_udp_dropped_queue_full_total",
        "Datagrams dropped: a media worker's queue was full.",
    ),
    (
        "aula_sfu_commands_refused_total",
        "Clients' commands refused for a media worker's full queue.",
    ),
    (
        "aula_frames_forwarded_total",
        "Video frames forwarded to subscribers.",
    ),
    (
        "aula_rtp_packets_forwarded_total",
        "RTP packets forwarded, one per subscriber.",
    ),
    (
        "aula_connection_timeouts_total",
        "Timeouts given to WebRTC connections, each a pass over the connection's streams.",
    ),
    (
        "aula_rtp_packets_unannounced_layer_total",
        "RTP packets on a simulcast layer the offer did not announce, dropped.",
    ),
    (
        "aula_rtp_packets_paused_layer_total",
        "RTP packets of a layer switched off at the source, dropped.",
    ),
    (
        "aula_rtp_packets_empty_total",
        "RTP packets with nothing in them (padding only) from publishers, not forwarded.",
    ),
    (
        "aula_rtp_packets_oversized_total",
        "RTP packets from publishers with a payload over 1,500 bytes, dropped.",
    ),
    (
        "aula_media_rooms_failed_total",
        "Rooms whose media state a fault in its code ended; their participants joined again.",
    ),
    (
        "aula_layer_changes_total",
        "Simulcast layer changes for subscribers.",
    ),
    (
        "aula_estimates_restarted_total",
        "Bandwidth estimates restarted after an idle time.",
    ),
    (
        "aula_links_overflowing_total",
        "Subscriber links found overflowing their queue, decided on what they delivered.",
    ),
    (
        "aula_encodings_paused_total",
        "Encodings switched off at the source because nobody took them.",
    ),
    (
        "aula_encodings_resumed_total",
        "Encodings switched on again.",
    ),
    (
        "aula_screen_caps_total",
        "Screen share frame-rate caps sent to publishers.",
    ),
    (
        "aula_camera_caps_total",
        "Caps on a host camera's lowest layer sent to publishers.",
    ),
    (
        "aula_caps_ignored_total",
        "Publishers found sending a capped encoding well over its cap (not capped again for a minute).",
    ),
    (
        "aula_frames_waiting_keyframe_total",
        "Frames held back until a keyframe.",
    ),
    (
        "aula_layers_cut_total",
        "Video layers stopped at the end of a frame because a subscriber's link no longer carried them and lost packets.",
    ),
    (
        "aula_cut_packets_dropped_total",
        "Packets of a video layer lowered or paused for a link losing packets, still waiting to be paced out, dropped when the layer stopped.",
    ),
    (
        "aula_keyframe_requests_total",
        "Keyframe requests sent to publishers.",
    ),
    (
        "aula_frames_gated_total",
        "Frames dropped because their source is muted or stopped by a host.",
    ),
    (
        "aula_connections_failed_total",
        "Peer connections that failed.",
    ),
    (
        "aula_renegotiations_failed_total",
        "Renegotiations that failed or were refused.",
    ),
    (
        "aula_subscribe_renegotiations_failed_total",
        "Subscribe renegotiations that failed.",
    ),
    (
        "aula_publish_renegotiations_refused_total",
        "Publish renegotiations refused.",
    ),
    ("aula_ice_restarts_total", "ICE restarts."),
    (
        "aula_ice_restarts_rate_limited_total",
        "ICE restarts refused for coming too fast.",
    ),
    (
        "aula_connections_silent_total",
        "Peer connections that went silent.",
    ),
    (
        "aula_views_rate_limited_total",
        "View updates refused for coming too fast.",
    ),
    (
        "aula_announcements_held_total",
        "Own changes announced later for coming too fast.",
    ),
    (
        "aula_websockets_without_join_total",
        "WebSockets closed for sending no join in time.",
    ),
    (
        "aula_origins_refused_total",
        "Room creations and WebSockets refused for another site's origin.",
    ),
    ("aula_metrics_refused_total", "Metrics requests refused."),
    (
        "aula_hosts_refused_total",
        "Room creations refused for naming a host the links may not use.",
    ),
    (
        "aula_http_connections_refused_total",
        "TCP connections refused beyond max_connections.",
    ),
    (
        "aula_http_requests_timed_out_total",
        "Requests whose body did not arrive in time.",
    ),
    (
        "aula_messages_rate_limited_total",
        "WebSocket messages dropped beyond their session's budget.",
    ),
    (
        "aula_websockets_flooding_total",
        "WebSockets closed (1008) for flooding far beyond their budget.",
    ),
    ("aula_resumes_total", "Sessions resumed on a new socket."),
    ("aula_resumes_failed_total", "Resumes refused."),
    (
        "aula_sessions_reconnecting_total",
        "Participants kept for a resume after their socket went.",
    ),
    (
        "aula_resume_grace_expired_total",
        "Participants whose resume grace ended.",
    ),
    (
        "aula_staff_sign_ins_total",
        "Staff sign-ins that succeeded.",
    ),
    (
        "aula_staff_sign_ins_failed_total",
        "Staff sign-ins with a wrong name or password.",
    ),
    (
        "aula_staff_sign_ins_throttled_total",
        "Staff sign-ins refused after too many failures.",
    ),
    (
        "aula_staff_directory_errors_total",
        "Staff sign-ins the LDAP directory could not answer.",
    ),
    (
        "aula_rooms_refused_sign_in_total",
        "Room creations refused without a staff sign-in.",
    ),
    (
        "aula_frames_not_forwarded_total",
        "Frames not forwarded to a subscriber, by cause.",
    ),
    (
        "aula_address_refused_total",
        "Requests refused for one client address's cap, by cap.",
    ),
    (
        "aula_errors_sent_total",
        "Error messages sent to WebSocket clients, by code.",
    ),
    (
        "aula_websockets_closed_total",
        "WebSockets the server closed, by close code.",
    ),
    (
        "aula_websockets_dropped_slow_total",
        "WebSockets dropped for not reading what their room sent.",
    ),
    (
        "aula_bandwidth_subscribers",
        "Subscribers the allocator serves.",
    ),
    (
        "aula_bandwidth_subscribers_estimated",
        "Subscribers with a bandwidth estimate.",
    ),
    (
        "aula_bandwidth_estimate_bps_sum",
        "Sum of the subscribers' bandwidth estimates, bit/s.",
    ),
    (
        "aula_bandwidth_allocated_bps",
        "Bit rate the allocator hands out, bit/s.",
    ),
    (
        "aula_bandwidth_wanted_bps",
        "Bit rate the subscribers' pages ask for, bit/s.",
    ),
    (
        "aula_bandwidth_subscribers_limited",
        "Subscribers held below what their pages ask for.",
    ),
    (
        "aula_bandwidth_subscribers_audio_only",
        "Subscribers on audio only.",
    ),
    (
        "aula_bandwidth_videos_paused",
        "Videos paused to save bandwidth.",
    ),
    (
        "aula_bandwidth_egress_limit_bps",
        "The server's egress budget, bit/s.",
    ),
    (
        "aula_bandwidth_videos_forwarded",
        "Videos forwarded, by simulcast layer.",
    ),
    ("aula_participants_present", "Participants on the server."),
    (
        "aula_admission_queue_length",
        "People waiting in the join queue.",
    ),
    (
        "aula_admission_cpu_ratio",
        "The server's CPU use, as a share of all cores.",
    ),
    (
        "aula_admission_pressure_limit_bits_per_second",
        "Egress budget set for CPU pressure, bit/s; 0 when none.",
    ),
    (
        "aula_admitted_total",
        "Joins let in, by class and whether they waited.",
    ),
    (
        "aula_admission_queued_total",
        "Joins that waited, by what held them.",
    ),
    (
        "aula_admission_left_queue_total",
        "People who gave up their place in the queue.",
    ),
    (
        "aula_admission_replaced_total",
        "Queued pages that reconnected while waiting.",
    ),
    (
        "aula_admission_refused_total",
        "Joins that could not even wait, by cause.",
    ),
    (
        "aula_admission_wait_seconds",
        "Time the last 1,000 who waited spent in the queue, seconds.",
    ),
];

/// `samples` (one `name{labels} value` per line, each family's lines together) with a
/// `# HELP` and a `# TYPE` line before each family.
fn annotate(samples: &str) -> String {
    let mut out = String::with_capacity(samples.len() * 2);
    let mut family = "";
    for line in samples.lines() {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if name != family {
            family = name;
            let help = HELP
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, h)| *h);
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_gets_help_and_type_once() {
        let samples = "aula_rooms 2\naula_admission_queued_total{cause=\"cpu\"} 1\n\
                       aula_admission_queued_total{cause=\"rate\"} 0\n";
        let text = annotate(samples);
        assert_eq!(
            text,
            "# HELP aula_rooms Rooms open.\n# TYPE aula_rooms gauge\naula_rooms 2\n\
             # HELP aula_admission_queued_total Joins that waited, by what held them.\n\
             # TYPE aula_admission_queued_total counter\n\
             aula_admission_queued_total{cause=\"cpu\"} 1\n\
             aula_admission_queued_total{cause=\"rate\"} 0\n"
        );
    }

    #[test]
    fn every_help_names_a_distinct_family() {
        let mut names: Vec<&str> = HELP.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), HELP.len());
        assert!(HELP.iter().all(|(_, h)| !h.is_empty() && !h.contains('\n')));
    }
}
