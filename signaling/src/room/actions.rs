//! Every message an admitted member may send after `join`: media, hands and chat for
//! everyone; the host actions of docs/protocol.md for hosts. Each is checked here, against
//! the sender's role and the room's settings, before anything changes: a refused message
//! changes nothing and is answered with an error.

use aula_sfu::{Command, Direction, LayerHint, ParticipantId, Source, Tile, TrackHint};
use tokio::time::Instant;

use super::chat::RateLimit;
use super::state::{SessionState, State};
use super::{Flow, Outgoing, RoomTask};
use crate::protocol::{
    self, ClientMsg, EndReason, ErrorCode, ModerationAction, Pc, PublishTrack, Role, ServerMsg,
    SettingsChange, ViewTile,
};
use crate::registry::Counters;

type Outcome = Result<Flow, (ErrorCode, String)>;

fn refuse(code: ErrorCode, why: &str) -> Outcome {
    Err((code, why.to_string()))
}

const HOSTS_ONLY: &str = "only a host may do this";

impl RoomTask {
    pub(super) fn handle_client(
        &self,
        state: &mut State,
        from: ParticipantId,
        msg: ClientMsg,
    ) -> Flow {
        if let Some(w) = state.lobby.iter().find(|w| w.id == from) {
            let refusal =
                ErrorCode::NotAdmitted.reply(msg.type_name(), "wait until a host lets you in");
            let _ = w.out.send(Outgoing::Msg(refusal));
            return Flow::Continue;
        }
        // A removed participant's last messages may still arrive; there is nobody to answer.
        let Some(member) = state.members.get(&from) else {
            return Flow::Continue;
        };
        let host = member.is_host();
        let re = msg.type_name();
        let outcome = if is_host_action(&msg) && !host {
            refuse(ErrorCode::Forbidden, HOSTS_ONLY)
        } else {
            self.apply(state, from, msg)
        };
        match outcome {
            Ok(flow) => flow,
            Err((code, why)) => {
                if let Some(m) = state.members.get(&from) {
                    m.send(code.reply(re, why));
                }
                Flow::Continue
            }
        }
    }

    fn apply(&self, state: &mut State, from: ParticipantId, msg: ClientMsg) -> Outcome {
        match msg {
            ClientMsg::Publish { sdp, tracks } => {
                // Its page has started anew after lost media (presence.rs, handle_media_lost),
                // or had not heard of it: either way a resume need not start it again.
                if let Some(m) = state.members.get_mut(&from) {
                    m.media_lost = false;
                }
                self.publish(state, from, sdp, tracks)
            }
            ClientMsg::View { tiles } => self.view(state, from, tiles),
            ClientMsg::SubscribeAnswer { sdp } => self.to_sfu(Command::SubscribeAnswer {
                participant: from,
                answer: sdp,
            }),
            ClientMsg::SubscribeFailed { reason } => {
                let reason: String = reason.chars().take(200).collect();
                tracing::debug!(participant = %from, %reason, "client could not apply a subscribe offer");
                self.to_sfu(Command::SubscribeFailed { participant: from })
            }
            ClientMsg::IceRestart { pc: Pc::Subscribe } => {
                self.to_sfu(Command::IceRestart { participant: from })
            }
            ClientMsg::IceRestart { pc: Pc::Publish } => refuse(
                ErrorCode::BadMessage,
                "the publish connection restarts ICE with a publish offer",
            ),
            ClientMsg::Candidate { pc, candidate } => self.to_sfu(Command::RemoteCandidate {
                participant: from,
                direction: match pc {
                    Pc::Publish => Direction::Publish,
                    Pc::Subscribe => Direction::Subscribe,
                },
                candidate,
            }),
            ClientMsg::MediaState {
                audio,
                video,
                screen,
            } => self.media_state(state, from, [audio, video, screen]),
            ClientMsg::RaiseHand => {
                let m = state.members.get_mut(&from).expect("caller checked");
                if m.info.hand.is_none() {
                    m.info.hand = Some(state.next_hand);
                    state.next_hand += 1;
                    self.announce(state, from);
                }
                Ok(Flow::Continue)
            }
            ClientMsg::LowerHand { participant } => self.lower_hand(state, from, participant),
            ClientMsg::Chat { text } => chat(state, from, &text),
            ClientMsg::Admit { participant } => {
                // waiting_id has checked the lobby, so a full room is the only refusal left.
                let id = waiting_id(state, &participant)?;
                if self.admit_waiting(state, id).is_err() {
                    return refuse(ErrorCode::RoomFull, "the room is full");
                }
                state.lobby_changed();
                Ok(Flow::Continue)
            }
            ClientMsg::AdmitAll => {
                // Nobody waiting: nothing changes, and the hosts hear nothing.
                if state.lobby.is_empty() {
                    return Ok(Flow::Continue);
                }
                if self.admit_all(state) > 0 {
                    return refuse(ErrorCode::RoomFull, "the room is full; the others wait");
                }
                Ok(Flow::Continue)
            }
            ClientMsg::Deny { participant } => {
                let id = waiting_id(state, &participant)?;
                self.turn_away(state, id, ErrorCode::Denied, "a host did not let you in");
                Ok(Flow::Continue)
            }
            ClientMsg::DenyAll => {
                let waiting: Vec<ParticipantId> = state.lobby.iter().map(|w| w.id).collect();
                for id in waiting {
                    self.turn_away(state, id, ErrorCode::Denied, "a host did not let you in");
                }
                Ok(Flow::Continue)
            }
            ClientMsg::Mute { participant } => {
                let target = member_id(state, &participant)?;
                self.moderate(state, target, ModerationAction::Mute, Some(from));
                Ok(Flow::Continue)
            }
            ClientMsg::MuteAll => {
                let others = state.members.keys().filter(|id| **id != from);
                for target in others.copied().collect::<Vec<_>>() {
                    self.moderate(state, target, ModerationAction::Mute, Some(from));
                }
                Ok(Flow::Continue)
            }
            ClientMsg::LowerAllHands => {
                let raised: Vec<ParticipantId> = (state.members.iter())
                    .filter(|(_, m)| m.info.hand.is_some())
                    .map(|(id, _)| *id)
                    .collect();
                for id in raised {
                    let m = state.members.get_mut(&id).expect("listed above");
                    m.info.hand = None;
                    self.announce(state, id);
                }
                Ok(Flow::Continue)
            }
            ClientMsg::Spotlight { participant } => {
                let target = match participant {
                    Some(p) => Some(member_id(state, &p)?),
                    None => None,
                };
                if state.spotlight != target {
                    state.spotlight = target;
                    state.broadcast(&ServerMsg::Spotlight {
                        participant: target.map(|p| p.to_string()),
                    });
                }
                Ok(Flow::Continue)
            }
            ClientMsg::StopVideo { participant } => {
                let target = member_id(state, &participant)?;
                self.moderate(state, target, ModerationAction::StopVideo, Some(from));
                Ok(Flow::Continue)
            }
            ClientMsg::StopScreen { participant } => {
                let target = member_id(state, &participant)?;
                self.moderate(state, target, ModerationAction::StopScreen, Some(from));
                Ok(Flow::Continue)
            }
            ClientMsg::Remove { participant } => self.remove(state, from, &participant),
            ClientMsg::SetRole { participant, role } => {
                self.set_role(state, from, &participant, role)
            }
            ClientMsg::Settings(change) => {
                self.change_settings(state, change);
                Ok(Flow::Continue)
            }
            ClientMsg::RenewLink => {
                let secret = self.registry.renew_participant_secret(&self.id);
                state.participant_secret = secret.clone();
                tracing::info!("participant link renewed");
                let participant_secret = secret.as_str().to_string();
                state.to_hosts(&ServerMsg::LinkRenewed { participant_secret });
                // Whoever waits came through the old link: a renewal is how a teacher gets
                // strangers out, so they go too (their session is not barred: a student
                // who gets the new link knocks again).
                let waiting: Vec<ParticipantId> = state.lobby.iter().map(|w| w.id).collect();
                for id in waiting {
                    let why = "the link was renewed; ask for the new one";
                    self.turn_away(state, id, ErrorCode::BadSecret, why);
                }
                Ok(Flow::Continue)
            }
            ClientMsg::RenewHostLink => {
                if !state.members[&from].is_lead(state) {
                    let why = "only the room's lead may renew the host link";
                    return refuse(ErrorCode::Forbidden, why);
                }
                let secret = self.registry.renew_host_secret(&self.id);
                tracing::info!("host link renewed");
                let host_secret = secret.as_str().to_string();
                state.members[&from].send(ServerMsg::HostLinkRenewed { host_secret });
                Ok(Flow::Continue)
            }
            ClientMsg::EndRoom => Ok(Flow::End(EndReason::EndedByHost)),
            ClientMsg::Join { .. }
            | ClientMsg::Resume { .. }
            | ClientMsg::Leave { .. }
            | ClientMsg::Ping => {
                unreachable!("the session handles join, resume, leave and ping itself")
            }
        }
    }

    fn to_sfu(&self, cmd: Command) -> Outcome {
        match self.sfu.send(&self.id, cmd) {
            Ok(()) => Ok(Flow::Continue),
            Err(e) => Err((ErrorCode::ServerBusy, e.to_string())),
        }
    }

    fn publish(
        &self,
        state: &State,
        from: ParticipantId,
        sdp: String,
        tracks: Vec<PublishTrack>,
    ) -> Outcome {
        let tracks = parse_tracks(tracks);
        // Only a screen m-line that sends counts: an inactive one stays in a renegotiated
        // connection after a share ended, also for someone no longer allowed to share.
        let sending = aula_sfu::sending_mids(&sdp);
        let sharing = tracks
            .iter()
            .any(|t| t.source == Source::Screen && sending.contains(&t.mid));
        if sharing && !may(state, from, Source::Screen) {
            return refuse(ErrorCode::Forbidden, "screen sharing is not allowed here");
        }
        self.to_sfu(Command::Publish {
            participant: from,
            offer: sdp,
            tracks,
        })
    }

    /// The sizes the sender's page shows the others' videos at, for the SFU's layer choice.
    fn view(&self, state: &mut State, from: ParticipantId, tiles: Vec<ViewTile>) -> Outcome {
        let m = state.members.get_mut(&from).expect("caller checked");
        if !m.view_limit.allow(Instant::now()) {
            Counters::bump(&self.registry.counters.views_limited);
            return refuse(
                ErrorCode::RateLimited,
                "too many view updates; the last one stays",
            );
        }
        let tiles = tiles
            .into_iter()
            .take(MAX_VIEW_TILES)
            .filter_map(|t| {
                Some(Tile {
                    publisher: protocol::parse_participant(&t.participant)?,
                    source: Source::parse(&t.source)?,
                    width: t.width.clamp(1, 8192) as u32,
                    height: t.height.clamp(1, 8192) as u32,
                })
            })
            .collect();
        self.to_sfu(Command::View {
            participant: from,
            tiles,
        })
    }

    /// Applies what a client wants on, if everything it turns on is allowed.
    fn media_state(&self, state: &mut State, from: ParticipantId, wanted: [bool; 3]) -> Outcome {
        let member = &state.members[&from];
        let now = [member.info.audio, member.info.video, member.info.screen];
        for (i, source) in SOURCES.into_iter().enumerate() {
            if wanted[i] && !now[i] && !may(state, from, source) {
                return refuse(ErrorCode::Forbidden, not_allowed(source));
            }
        }
        let mut changed = false;
        for (i, source) in SOURCES.into_iter().enumerate() {
            changed |= self.set_flag(state, from, source, wanted[i]);
        }
        // What did not change is not news.
        if changed {
            self.announce(state, from);
        }
        Ok(Flow::Continue)
    }

    /// Announces a member's own change within its limit, counting what is held back.
    fn announce(&self, state: &mut State, id: ParticipantId) {
        if state.announce(id, Instant::now()) {
            Counters::bump(&self.registry.counters.announcements_held);
        }
    }

    /// Sets one of a member's media flags and the SFU gate behind it.
    fn set_flag(&self, state: &mut State, id: ParticipantId, source: Source, on: bool) -> bool {
        let Some(m) = state.members.get_mut(&id) else {
            return false;
        };
        let flag = match source {
            Source::Microphone => &mut m.info.audio,
            Source::Camera => &mut m.info.video,
            Source::Screen => &mut m.info.screen,
        };
        if *flag == on {
            return false;
        }
        *flag = on;
        self.gate(id, source, on);
        true
    }

    /// Turns a member's source off on a host's (or a setting's) behalf.
    fn moderate(
        &self,
        state: &mut State,
        target: ParticipantId,
        action: ModerationAction,
        by: Option<ParticipantId>,
    ) {
        let source = match action {
            ModerationAction::Mute => Source::Microphone,
            ModerationAction::StopVideo => Source::Camera,
            ModerationAction::StopScreen => Source::Screen,
        };
        if !self.set_flag(state, target, source, false) {
            return;
        }
        tracing::info!(participant = %target, ?action, "moderated");
        let by = by.map(|id| id.to_string());
        state.members[&target].send(ServerMsg::Moderated { action, by });
        state.member_changed(target);
    }

    /// Turns off, for one member, every source the settings no longer allow it.
    fn enforce_settings(&self, state: &mut State, id: ParticipantId) {
        for (source, action) in [
            (Source::Microphone, ModerationAction::Mute),
            (Source::Camera, ModerationAction::StopVideo),
            (Source::Screen, ModerationAction::StopScreen),
        ] {
            if !may(state, id, source) {
                self.moderate(state, id, action, None);
            }
        }
    }

    fn lower_hand(
        &self,
        state: &mut State,
        from: ParticipantId,
        participant: Option<String>,
    ) -> Outcome {
        let target = match participant {
            Some(p) => member_id(state, &p)?,
            None => from,
        };
        if target != from && !state.members[&from].is_host() {
            return refuse(ErrorCode::Forbidden, "only a host may lower another's hand");
        }
        let m = state.members.get_mut(&target).expect("member_id checked");
        if m.info.hand.take().is_some() {
            self.announce(state, target);
        }
        Ok(Flow::Continue)
    }

    fn remove(&self, state: &mut State, from: ParticipantId, participant: &str) -> Outcome {
        let target = protocol::parse_participant(participant).ok_or((
            ErrorCode::UnknownParticipant,
            "no such participant".to_string(),
        ))?;
        if target == from {
            return refuse(ErrorCode::Forbidden, "use leave to leave the room");
        }
        if state.lobby.iter().any(|w| w.id == target) {
            self.turn_away(state, target, ErrorCode::Removed, "a host removed you");
            return Ok(Flow::Continue);
        }
        let Some(m) = state.members.get(&target) else {
            return refuse(ErrorCode::UnknownParticipant, "no such participant");
        };
        if m.by_host_link && !state.members[&from].is_lead(state) {
            return refuse(
                ErrorCode::Forbidden,
                "only the room's lead may remove a host with the host link",
            );
        }
        state
            .sessions
            .insert(m.session.clone(), SessionState::Removed);
        m.send(ErrorCode::Removed.message("a host removed you from the room"));
        let _ = m.out.send(Outgoing::Close(4000, "removed"));
        tracing::info!(participant = %target, "removed");
        self.leave(state, target);
        Ok(Flow::Continue)
    }

    /// Disconnects a waiting participant with `code`; `removed` and `denied` also bar its
    /// session (a reload of the page does not knock again).
    fn turn_away(&self, state: &mut State, id: ParticipantId, code: ErrorCode, why: &str) {
        let Some(pos) = state.lobby.iter().position(|w| w.id == id) else {
            return;
        };
        let w = state.lobby.remove(pos);
        let barred = match code {
            ErrorCode::Removed => Some(SessionState::Removed),
            ErrorCode::Denied => Some(SessionState::Denied),
            _ => None,
        };
        if let Some(barred) = barred {
            state.sessions.insert(w.session, barred);
        }
        let _ = w.out.send(Outgoing::Msg(code.message(why)));
        let _ = w.out.send(Outgoing::Close(4000, code.as_str()));
        state.lobby_changed();
    }

    fn set_role(
        &self,
        state: &mut State,
        from: ParticipantId,
        participant: &str,
        role: Role,
    ) -> Outcome {
        let target = member_id(state, participant)?;
        if target == from {
            return refuse(ErrorCode::Forbidden, "hosts cannot change their own role");
        }
        let lead = state.members[&from].is_lead(state);
        let m = state.members.get_mut(&target).expect("member_id checked");
        if role == Role::Participant && m.by_host_link {
            if !lead {
                return refuse(
                    ErrorCode::Forbidden,
                    "only the room's lead may demote a host with the host link",
                );
            }
            // Demoted by the lead: from now on a host like any other.
            m.by_host_link = false;
            m.info.host_link = false;
        }
        if m.info.role == role {
            return Ok(Flow::Continue);
        }
        m.info.role = role;
        tracing::info!(participant = %target, ?role, "role changed");
        self.tell_role(target, role == Role::Host);
        if role == Role::Host {
            let lead = state.members[&target].is_lead(state);
            state.members[&target].send(state.host_info(lead));
        } else {
            self.enforce_settings(state, target);
        }
        state.member_changed(target);
        Ok(Flow::Continue)
    }

    fn change_settings(&self, state: &mut State, change: SettingsChange) {
        let before = state.settings;
        let s = &mut state.settings;
        let fields = [
            (&mut s.lobby, change.lobby),
            (&mut s.locked, change.locked),
            (&mut s.chat, change.chat),
            (&mut s.unmute, change.unmute),
            (&mut s.video, change.video),
            (&mut s.screen, change.screen),
        ];
        for (field, new) in fields {
            if let Some(v) = new {
                *field = v;
            }
        }
        // Settings as they already are are no news (a flood of them must not reach everyone).
        if state.settings == before {
            return;
        }
        tracing::info!(settings = ?state.settings, "settings changed");
        state.broadcast(&ServerMsg::SettingsUpdated {
            settings: state.settings,
        });
        if !state.settings.lobby && !state.lobby.is_empty() {
            self.admit_all(state);
        }
        let ids: Vec<ParticipantId> = state.members.keys().copied().collect();
        for id in ids {
            self.enforce_settings(state, id);
        }
    }
}

const SOURCES: [Source; 3] = [Source::Microphone, Source::Camera, Source::Screen];

fn is_host_action(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::Admit { .. }
            | ClientMsg::AdmitAll
            | ClientMsg::DenyAll
            | ClientMsg::Deny { .. }
            | ClientMsg::Mute { .. }
            | ClientMsg::MuteAll
            | ClientMsg::LowerAllHands
            | ClientMsg::Spotlight { .. }
            | ClientMsg::StopVideo { .. }
            | ClientMsg::StopScreen { .. }
            | ClientMsg::Remove { .. }
            | ClientMsg::SetRole { .. }
            | ClientMsg::Settings(_)
            | ClientMsg::RenewLink
            | ClientMsg::RenewHostLink
            | ClientMsg::EndRoom
    )
}

/// Whether a member may turn `source` on: hosts always, participants as the settings say.
fn may(state: &State, id: ParticipantId, source: Source) -> bool {
    let Some(m) = state.members.get(&id) else {
        return false;
    };
    let s = &state.settings;
    m.is_host()
        || match source {
            Source::Microphone => s.unmute,
            Source::Camera => s.video,
            Source::Screen => s.screen,
        }
}

fn not_allowed(source: Source) -> &'static str {
    match source {
        Source::Microphone => "a host has not allowed participants to unmute",
        Source::Camera => "a host has not allowed participants to use their cameras",
        Source::Screen => "a host has not allowed participants to share their screens",
    }
}

fn chat(state: &mut State, from: ParticipantId, text: &str) -> Outcome {
    let m = &state.members[&from];
    if !m.is_host() && !state.settings.chat {
        return refuse(ErrorCode::Forbidden, "a host has switched the chat off");
    }
    let text = protocol::clean_chat(text)?;
    let now = Instant::now();
    let limit = state
        .chat_limits
        .entry(m.session.clone())
        .or_insert_with(|| RateLimit::new(now));
    if !limit.allow(now) {
        return refuse(
            ErrorCode::RateLimited,
            "too many chat messages; wait a moment",
        );
    }
    if !state.chat_bytes.allow_n(now, text.len() as f64) {
        return refuse(ErrorCode::RateLimited, "the chat is busy; wait a moment");
    }
    let (id, name, role) = (m.info.id.clone(), m.info.name.clone(), m.info.role);
    let message = state.chat.push(id, name, role, text);
    state.broadcast(&ServerMsg::Chat { message });
    Ok(Flow::Continue)
}

/// The id of an admitted member, or `unknown_participant`.
fn member_id(state: &State, participant: &str) -> Result<ParticipantId, (ErrorCode, String)> {
    protocol::parse_participant(participant)
        .filter(|id| state.members.contains_key(id))
        .ok_or((ErrorCode::UnknownParticipant, "no such participant".into()))
}

/// The id of a participant waiting in the lobby, or `unknown_participant`.
fn waiting_id(state: &State, participant: &str) -> Result<ParticipantId, (ErrorCode, String)> {
    protocol::parse_participant(participant)
        .filter(|id| state.lobby.iter().any(|w| w.id == *id))
        .ok_or((
            ErrorCode::UnknownParticipant,
            "nobody waits with this id".into(),
        ))
}

/// Tiles a `view` may list (protocol.md); the rest are ignored.
const MAX_VIEW_TILES: usize = 200;

fn parse_tracks(tracks: Vec<PublishTrack>) -> Vec<TrackHint> {
    tracks
        .into_iter()
        .take(MAX_VIEW_TILES)
        .filter_map(|t| {
            let layers = t
                .layers
                .into_iter()
                .take(3)
                .map(|l| LayerHint {
                    rid: l.rid,
                    width: l.width.clamp(1, 8192) as u32,
                    height: l.height.clamp(1, 8192) as u32,
                })
                .collect();
            Some(TrackHint {
                mid: t.mid,
                source: Source::parse(&t.source)?,
                layers,
            })
        })
        .collect()
}
