//! From `join` to `joined`: the socket, the lobby, the join timeout, and what `joined` tells
//! (who the bot is, who else is there, the session and the resume token).

use tokio::sync::mpsc;

use super::{Bot, Flow, LEAVE_WAIT};
use crate::bot::{BotError, Command};
use crate::protocol::Participant;
use crate::signaling::{SignalEvent, Signaling};

/// What woke the join loop.
enum JoinWake {
    Command(Option<Command>),
    Signal(Result<SignalEvent, BotError>),
    Deadline,
}

/// What `joined` says, taken apart.
pub(super) struct Admitted {
    pub you: Participant,
    pub participants: Vec<Participant>,
    pub session: Option<String>,
    pub resume: Option<String>,
}

impl Bot {
    /// Joins within the join timeout, waiting in the lobby if there is one, while still
    /// answering commands, so a snapshot does not wait for the server and a leave ends the
    /// attempt (then false). Once joined, the socket is `self.signal`.
    pub(super) async fn join_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<bool, BotError> {
        let timeout = self.config.join_timeout;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        // A copy, so that commands may change the bot while it connects.
        let config = self.config.clone();
        let connecting = Signaling::connect(&config, self.start);
        tokio::pin!(connecting);
        let (signal, ws_open) = loop {
            let cmd = tokio::select! {
                connected = &mut connecting => break connected?,
                cmd = commands.recv() => cmd,
                () = &mut deadline => return Err(BotError::JoinTimeout(timeout)),
            };
            if let Flow::Leave = self.handle_command(cmd, false).await {
                return Ok(false);
            }
        };
        self.stats.ws_open.get_or_insert(ws_open);
        self.signal = Some(signal);
        self.admitted_or_leave(commands, deadline).await
    }

    /// The second half of [`Bot::join_or_leave`]: the socket is open and `join` sent; waits
    /// for `joined` until `deadline`.
    async fn admitted_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Result<bool, BotError> {
        loop {
            let signal = self.signal()?;
            let wake = tokio::select! {
                cmd = commands.recv() => JoinWake::Command(cmd),
                event = signal.recv() => JoinWake::Signal(event),
                () = &mut deadline => JoinWake::Deadline,
            };
            match wake {
                JoinWake::Command(cmd) => {
                    if let Flow::Leave = self.handle_command(cmd, false).await {
                        self.signal()?.leave(LEAVE_WAIT).await;
                        self.signal = None;
                        return Ok(false);
                    }
                }
                JoinWake::Signal(event) => {
                    if self.handle_join_event(event?)? {
                        return Ok(true);
                    }
                }
                JoinWake::Deadline => {
                    return Err(BotError::JoinTimeout(self.config.join_timeout));
                }
            }
        }
    }

    /// One event before `joined`; true once joined. An error before `joined` or `lobby` is
    /// the answer to `join`.
    fn handle_join_event(&mut self, event: SignalEvent) -> Result<bool, BotError> {
        let at = self.elapsed();
        match event {
            SignalEvent::Joined {
                you,
                participants,
                session,
                resume,
                resumed: _,
            } => {
                self.handle_admitted(Admitted {
                    you,
                    participants,
                    session,
                    resume,
                });
                return Ok(true);
            }
            SignalEvent::Lobby { session } => {
                self.stats.lobby.get_or_insert(at);
                self.stats.session = session;
            }
            SignalEvent::Refused { code, message } if self.stats.lobby.is_none() => {
                return Err(BotError::Refused { code, message });
            }
            SignalEvent::Closed(why) => return Err(self.closed(why)),
            // In the lobby: the answers to what a test sent, a room that ended.
            other => self.handle_news(other),
        }
        Ok(false)
    }

    /// Takes in `joined`: who the bot is now (a new presence, unless it resumed as the same
    /// participant), its session and resume token, and everyone else.
    pub(super) fn handle_admitted(&mut self, joined: Admitted) {
        let at = self.elapsed();
        self.stats.joined.get_or_insert(at);
        if let Some(churn) = self.stats.churn_mut() {
            churn.joined = Some(at);
        }
        // An error answered in the lobby is no reason for a later close.
        self.last_error = None;
        let you = joined.you;
        self.stats.handle_presence(&you.id, at);
        self.stats.id = Some(you.id.clone());
        // Janus has no roles; its ticket's secret names the role instead.
        self.stats.role = Some(if you.role.is_empty() {
            self.config.secret.clone()
        } else {
            you.role.clone()
        });
        self.stats.you = Some(you);
        self.stats.session = joined.session.or(self.stats.session.take());
        if joined.resume.is_some() {
            self.resume_token = joined.resume;
        }
        for p in joined.participants {
            self.handle_participant(p);
        }
    }

    /// Why the bot ends when the server closes the socket: the error it sent just before,
    /// if it closed with an error's code (4000 and up), else the close itself.
    pub(super) fn closed(&mut self, why: Option<(u16, String)>) -> BotError {
        let by_error = why.as_ref().is_some_and(|(code, _)| *code >= 4000);
        match self.last_error.take() {
            Some((code, message)) if by_error => BotError::Refused { code, message },
            _ => BotError::Closed(why),
        }
    }
}
