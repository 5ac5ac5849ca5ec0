//! The server's socket and its connections (docs/design.md §4, "Server and
//! clients"): the Unix socket in DIR's state directory (the directory
//! `0700`, the socket `0600`; no TCP), each connection's peer uid checked
//! with `SO_PEERCRED` against the server's own, the version handshake, and
//! per connection a reader (frames → the hub) and a writer (the hub's frames
//! → the socket).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio_util::codec::Framed;

use super::hub::{ClientId, HubMsg};
use crate::protocol::wire::{
    ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, codec, decode, encode, version_mismatch,
};

/// Longest socket path `bind(2)` takes on Linux: `sun_path` holds 108
/// bytes, the last a NUL (unix(7)).
pub const MAX_SOCKET_PATH: usize = 107;

/// How long a new connection may take to send its [`Hello`].
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// The socket of the server of the state directory `state`.
pub fn socket_path(state: &Path) -> PathBuf {
    state.join("serve.sock")
}

/// Why the socket cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The path is longer than a Unix socket's address allows.
    #[error(
        "the server's socket {path} is {len} bytes long, over the {MAX_SOCKET_PATH} a Unix socket allows: name a shorter state directory with --state-dir"
    )]
    TooLong {
        /// The socket's path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// A file system or socket error.
    #[error("cannot listen on {path}: {source}")]
    Io {
        /// The socket's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Whether `path` fits a Unix socket's address.
pub fn fits(path: &Path) -> Result<(), BindError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(BindError::TooLong {
            path: path.to_path_buf(),
            len,
        });
    }
    Ok(())
}

/// Listens on `path`: its directory is made `0700`, a socket left there by a
/// server that died is replaced (the caller holds the state lock, so no
/// live server owns it), and the new socket is made `0600`.
///
/// Errors: [`BindError`].
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    use std::os::unix::fs::PermissionsExt as _;
    fits(path)?;
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// This process's effective uid.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Serves one connection: the uid check and the handshake, then the reader
/// here and a writer task, until either side closes. The writer holds a
/// clone of `writing` until its last frame is out, so that the server waits
/// for every client's [`crate::protocol::Event::Closed`] before it exits.
pub async fn connection(
    stream: UnixStream,
    id: ClientId,
    hub: UnboundedSender<HubMsg>,
    writing: tokio::sync::mpsc::Sender<()>,
) {
    let peer = stream.peer_cred().map(|c| c.uid());
    let mut framed = Framed::new(stream, codec());
    let uid = own_uid();
    match peer {
        Ok(peer) if peer == uid => {}
        Ok(peer) => {
            tracing::warn!(peer, "a client of another user was refused");
            let reason = format!(
                "this quorum server belongs to uid {uid}; a client of uid {peer} may not attach"
            );
            let _ = framed.send(encode(&ServerMsg::Refused { reason })).await;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "no peer credentials: refused");
            return;
        }
    }
    let Some(hello) = hello(&mut framed).await else {
        return;
    };
    if hello.protocol != PROTOCOL_VERSION {
        let reason = version_mismatch(&hello);
        let _ = framed.send(encode(&ServerMsg::Refused { reason })).await;
        return;
    }
    let (frames, mut outgoing) = unbounded_channel();
    let (welcome_tx, welcome_rx) = oneshot::channel();
    let label: String = crate::sanitize::line(&hello.label)
        .chars()
        .take(80)
        .collect();
    let join = HubMsg::Join {
        id,
        label,
        attach: hello.attach,
        frames,
        welcome: welcome_tx,
    };
    if hub.send(join).is_err() {
        return;
    }
    let Ok(welcome) = welcome_rx.await else {
        return;
    };
    if framed
        .send(encode(&ServerMsg::Welcome(welcome)))
        .await
        .is_err()
    {
        let _ = hub.send(HubMsg::Left(id));
        return;
    }
    let (mut sink, mut stream) = framed.split();
    // The writer: the hub's frames, in order, until it lets this client go.
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
        drop(writing);
    });
    while let Some(Ok(frame)) = stream.next().await {
        match decode::<ClientMsg>(&frame) {
            Ok(msg) => {
                if hub.send(HubMsg::From(id, msg)).is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(client = id, error = %e, "a frame that is not a message");
                break;
            }
        }
    }
    let _ = hub.send(HubMsg::Left(id));
}

/// Reads the connection's first frame as a [`Hello`], within
/// [`HELLO_TIMEOUT`]; `None` (and the connection dropped) for anything else.
async fn hello(
    framed: &mut Framed<UnixStream, tokio_util::codec::LengthDelimitedCodec>,
) -> Option<Hello> {
    let frame = tokio::time::timeout(HELLO_TIMEOUT, framed.next())
        .await
        .ok()??
        .ok()?;
    match decode::<ClientMsg>(&frame) {
        Ok(ClientMsg::Hello(hello)) => Some(hello),
        Ok(_) | Err(_) => {
            // Perhaps a client of another protocol: its hello's version, if
            // the frame has one, makes the refusal say so.
            let version = serde_json::from_slice::<serde_json::Value>(&frame)
                .ok()
                .and_then(|v| v.pointer("/Hello/protocol").and_then(|p| p.as_u64()));
            let quorum = serde_json::from_slice::<serde_json::Value>(&frame)
                .ok()
                .and_then(|v| {
                    v.pointer("/Hello/quorum")
                        .and_then(|q| q.as_str().map(str::to_string))
                });
            let reason = match version {
                Some(protocol) => version_mismatch(&Hello {
                    protocol: protocol as u32,
                    quorum: quorum.unwrap_or_else(|| "unknown".into()),
                    attach: false,
                    label: String::new(),
                }),
                None => format!(
                    "the first frame must be a hello of protocol {PROTOCOL_VERSION}; the connection is closed"
                ),
            };
            let _ = framed.send(encode(&ServerMsg::Refused { reason })).await;
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_over_the_limit_is_refused_naming_it() {
        let long = PathBuf::from(format!("/tmp/{}/serve.sock", "d".repeat(120)));
        let err = fits(&long).unwrap_err();
        assert!(err.to_string().contains("--state-dir"), "{err}");
        assert!(fits(Path::new("/tmp/x/.quorum/serve.sock")).is_ok());
    }

    #[tokio::test]
    async fn bind_makes_the_directory_0700_and_the_socket_0600_over_a_stale_one() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = socket_path(&state);
        std::fs::write(&path, "stale").unwrap();
        let _listener = bind(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert!(UnixStream::connect(&path).await.is_ok());
    }
}
