//! A client's end of `quorum serve`'s socket (docs/design.md §4, "Server and
//! clients"): connect, shake hands, and turn the connection into the same
//! [`Channels`] an in-process orchestrator gives, so that the TUI and the
//! headless runner work on either.

use std::path::Path;

use futures::{SinkExt as _, StreamExt as _};
use tokio::net::UnixStream;
use tokio::sync::mpsc::unbounded_channel;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::protocol::wire::{ClientMsg, Hello, ServerMsg, Welcome, codec, decode, encode};
use crate::protocol::{Channels, Event, Op};

/// Why a client could not attach.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server listens on the socket (none, or one that died).
    #[error("no quorum server listens on {0}")]
    NoServer(String),
    /// The server refused this client; the reason names why (another
    /// protocol version, another user).
    #[error("the quorum server refused this client: {0}")]
    Refused(String),
    /// The connection failed during the handshake.
    #[error("the quorum server's socket {path}: {reason}")]
    Broken {
        /// The socket.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A connection that passed the handshake.
pub struct Connection {
    framed: Framed<UnixStream, LengthDelimitedCodec>,
    /// The server's answer: its version, pid and session.
    pub welcome: Welcome,
}

/// What a client's [`Op::Shutdown`] means on the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnShutdown {
    /// The person quit the TUI: [`ClientMsg::Quit`] (the running session
    /// ends as at a shutdown; the server goes on).
    Quit,
    /// A follower (`attach --json`): the connection closes and the session
    /// goes on.
    Detach,
}

/// Connects to the server on `socket` and shakes hands with `hello`.
///
/// Errors: [`ClientError::NoServer`] when nothing listens there,
/// [`ClientError::Refused`] with the server's reason, [`ClientError::Broken`]
/// when the connection fails before the server's answer.
pub async fn connect(socket: &Path, hello: Hello) -> Result<Connection, ClientError> {
    let path = socket.display().to_string();
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NoServer(path));
        }
        Err(e) => {
            return Err(ClientError::Broken {
                path,
                reason: e.to_string(),
            });
        }
    };
    let broken = |reason: String| ClientError::Broken {
        path: path.clone(),
        reason,
    };
    let mut framed = Framed::new(stream, codec());
    framed
        .send(encode(&ClientMsg::Hello(hello)))
        .await
        .map_err(|e| broken(e.to_string()))?;
    let frame = match framed.next().await {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => return Err(broken(e.to_string())),
        None => return Err(broken("the server closed the connection".into())),
    };
    match decode::<ServerMsg>(&frame).map_err(|e| broken(e.to_string()))? {
        ServerMsg::Welcome(welcome) => Ok(Connection { framed, welcome }),
        ServerMsg::Refused { reason } => Err(ClientError::Refused(
            crate::sanitize::line(&reason).into_owned(),
        )),
        ServerMsg::Event(_) => Err(broken("an event before the handshake's answer".into())),
    }
}

impl Connection {
    /// The connection as [`Channels`]: ops are sent as they come
    /// ([`Op::Shutdown`] as `on_shutdown` says); events arrive as the server
    /// sends them; `stopped` resolves once the server has closed the
    /// connection (after [`Event::Closed`], or when it died).
    pub fn into_channels(self, on_shutdown: OnShutdown) -> Channels {
        let (channels, ends) = channels();
        self.serve(ends, on_shutdown);
        channels
    }

    /// Connects `ends` (made before the connection, by [`channels`]) to
    /// this connection, as [`Connection::into_channels`] does.
    pub fn serve(self, ends: Ends, on_shutdown: OnShutdown) {
        let Ends {
            ops: mut op_rx,
            events: event_tx,
            done: done_tx,
        } = ends;
        let (mut sink, mut stream) = self.framed.split();
        tokio::spawn(async move {
            while let Some(op) = op_rx.recv().await {
                let msg = match (op, on_shutdown) {
                    (Op::Shutdown, OnShutdown::Quit) => ClientMsg::Quit,
                    (Op::Shutdown, OnShutdown::Detach) => break,
                    (op, _) => ClientMsg::Op(op),
                };
                if sink.send(encode(&msg)).await.is_err() {
                    break;
                }
            }
            // Every op sender is gone (the frontend ended) or it detached:
            // the server sees the connection close.
            let _ = sink.close().await;
        });
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match decode::<ServerMsg>(&frame) {
                    Ok(ServerMsg::Event(event)) => {
                        if event_tx.send(event).is_err() {
                            break;
                        }
                    }
                    Ok(ServerMsg::Welcome(_) | ServerMsg::Refused { .. }) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "a frame from the server that is not a message");
                        break;
                    }
                }
            }
            let _ = done_tx.send(());
        });
    }

    /// Sends one message and reads until the server closes the connection;
    /// returns the events it sent (`serve --stop`: the server's end).
    ///
    /// Errors: a message naming the socket error.
    pub async fn request(mut self, msg: ClientMsg) -> Result<Vec<Event>, String> {
        self.framed
            .send(encode(&msg))
            .await
            .map_err(|e| e.to_string())?;
        let mut events = Vec::new();
        while let Some(frame) = self.framed.next().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(ServerMsg::Event(event)) = decode::<ServerMsg>(&frame) {
                let closed = event == Event::Closed;
                events.push(event);
                if closed {
                    break;
                }
            }
        }
        Ok(events)
    }
}

/// The connection's side of [`Channels`] made before there is a
/// connection ([`channels`]): a frontend can start (and draw) while the
/// server is being reached, its ops waiting in the channel.
pub struct Ends {
    /// The frontend's ops.
    pub ops: tokio::sync::mpsc::UnboundedReceiver<Op>,
    /// Where the server's events go.
    pub events: tokio::sync::mpsc::UnboundedSender<Event>,
    /// Fired when the connection has closed (resolves `stopped`).
    pub done: tokio::sync::oneshot::Sender<()>,
}

/// A frontend's [`Channels`] and the [`Ends`] a connection serves later
/// ([`Connection::serve`]); dropping the ends unused closes the channels.
pub fn channels() -> (Channels, Ends) {
    let (ops, op_rx) = unbounded_channel::<Op>();
    let (event_tx, events) = unbounded_channel::<Event>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let channels = Channels {
        ops,
        events,
        stopped: Box::pin(async move {
            let _ = done_rx.await;
        }),
    };
    let ends = Ends {
        ops: op_rx,
        events: event_tx,
        done: done_tx,
    };
    (channels, ends)
}

/// Who this client is, for the other clients' messages: `USER on TTY`
/// (the terminal of stdin), or `USER (pid N)` without one.
pub fn label() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", super::listen::own_uid()));
    let tty = std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts") || p.starts_with("/dev/tty"));
    match tty {
        Some(tty) => format!("{user} on {tty}"),
        None => format!("{user} (pid {})", std::process::id()),
    }
}
