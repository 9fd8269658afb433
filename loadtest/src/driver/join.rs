//! From `join` to `joined`: the socket, the server's join queue (`queued`, `server_busy`; the
//! rules in `queue`), the lobby, the join timeout, and what `joined` tells (who the bot is,
//! who else is there, the session and the resume token).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use super::queue::{JoinTimer, JoinWait};
use super::{Bot, Flow, LEAVE_WAIT};
use crate::bot::{BotError, Command};
use crate::protocol::Participant;
use crate::signaling::{SignalEvent, Signaling};
use crate::stats::QueueNote;

/// What woke the join loop.
enum JoinWake {
    Command(Option<Command>),
    Signal(Result<SignalEvent, BotError>),
    Timer,
}

/// How a join attempt on one socket ended.
enum Answer {
    Joined,
    /// Told to leave meanwhile.
    Left,
    /// `server_busy`: join again after this pause.
    Retry(Duration),
}

/// What `joined` says, taken apart.
pub(super) struct Admitted {
    pub you: Participant,
    pub participants: Vec<Participant>,
    pub session: Option<String>,
    pub resume: Option<String>,
}

impl Bot {
    /// Joins, waiting in the server's queue or the room's lobby as long as either moves,
    /// joining again after `server_busy` (as the page does), while still answering commands,
    /// so a snapshot does not wait for the server and a leave ends the attempt (then false).
    /// Once joined, the socket is `self.signal`.
    pub(super) async fn join_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<bool, BotError> {
        let mut wait = JoinWait::new(Instant::now(), self.config.join_timeout);
        loop {
            if !self.connect_or_leave(commands, &wait).await? {
                return Ok(false);
            }
            let pause = match self.admitted_or_leave(commands, &mut wait).await? {
                Answer::Joined => return Ok(true),
                Answer::Left => return Ok(false),
                Answer::Retry(pause) => pause,
            };
            self.signal = None;
            self.stats.busy_retries += 1;
            if !self.pause_or_leave(commands, pause).await {
                return Ok(false);
            }
            wait.restart(Instant::now());
        }
    }

    /// Opens the socket and sends `join` before `wait`'s deadline; false if told to leave.
    async fn connect_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        wait: &JoinWait,
    ) -> Result<bool, BotError> {
        let deadline = tokio::time::sleep_until(wait.deadline().into());
        tokio::pin!(deadline);
        // A copy, so that commands may change the bot while it connects.
        let config = self.config.clone();
        let connecting = Signaling::connect(&config, self.start);
        tokio::pin!(connecting);
        let (signal, ws_open) = loop {
            let cmd = tokio::select! {
                connected = &mut connecting => break connected?,
                cmd = commands.recv() => cmd,
                () = &mut deadline => return Err(BotError::JoinTimeout(self.config.join_timeout)),
            };
            if let Flow::Leave = self.handle_command(cmd, false).await {
                return Ok(false);
            }
        };
        self.stats.ws_open.get_or_insert(ws_open);
        self.signal = Some(signal);
        Ok(true)
    }

    /// The second half of a join: the socket is open and `join` sent; waits for `joined`,
    /// pinging while queued, until `wait` expires.
    async fn admitted_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        wait: &mut JoinWait,
    ) -> Result<Answer, BotError> {
        loop {
            let timer = tokio::time::sleep_until(wait.poll_timeout().into());
            let signal = self.signal()?;
            let wake = tokio::select! {
                cmd = commands.recv() => JoinWake::Command(cmd),
                event = signal.recv() => JoinWake::Signal(event),
                () = timer => JoinWake::Timer,
            };
            match wake {
                JoinWake::Command(cmd) => {
                    if let Flow::Leave = self.handle_command(cmd, false).await {
                        self.signal()?.leave(LEAVE_WAIT).await;
                        self.signal = None;
                        return Ok(Answer::Left);
                    }
                }
                JoinWake::Signal(event) => {
                    if let Some(answer) = self.handle_join_event(event?, wait)? {
                        return Ok(answer);
                    }
                }
                JoinWake::Timer => match wait.handle_timeout(Instant::now()) {
                    JoinTimer::Idle => {}
                    JoinTimer::Ping => self.signal()?.ping().await?,
                    JoinTimer::Expired => {
                        return Err(BotError::JoinTimeout(self.config.join_timeout));
                    }
                },
            }
        }
    }

    /// Waits `pause` before joining again, answering commands; false if told to leave.
    async fn pause_or_leave(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        pause: Duration,
    ) -> bool {
        let until = tokio::time::sleep(pause);
        tokio::pin!(until);
        loop {
            let cmd = tokio::select! {
                cmd = commands.recv() => cmd,
                () = &mut until => return true,
            };
            if let Flow::Leave = self.handle_command(cmd, false).await {
                return false;
            }
        }
    }

    /// One event before `joined`: the answer once there is one. An error before `joined`,
    /// `lobby` or `queued` is the answer to `join`.
    fn handle_join_event(
        &mut self,
        event: SignalEvent,
        wait: &mut JoinWait,
    ) -> Result<Option<Answer>, BotError> {
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
                return Ok(Some(Answer::Joined));
            }
            SignalEvent::Lobby { session } => {
                self.stats.lobby.get_or_insert(at);
                self.stats.session = session;
            }
            SignalEvent::Queued {
                position,
                waiting,
                wait_secs,
            } => {
                wait.handle_queued(Instant::now());
                self.stats.queue.push(QueueNote {
                    at,
                    position,
                    waiting,
                    wait_secs,
                });
            }
            SignalEvent::Busy { retry_after } => wait.handle_busy(retry_after),
            SignalEvent::Refused { code, message } if self.stats.lobby.is_none() => {
                return Err(BotError::Refused { code, message });
            }
            SignalEvent::Closed(why) => {
                let retry = self.stats.busy_retries;
                let draw = StdRng::seed_from_u64(self.config.seed ^ u64::from(retry) << 32)
                    .random::<f64>();
                return match wait.handle_closed(draw) {
                    Some(pause) => Ok(Some(Answer::Retry(pause))),
                    None => Err(self.closed(why)),
                };
            }
            // In the lobby: the answers to what a test sent, a room that ended.
            other => self.handle_news(other),
        }
        Ok(None)
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
