//! A sandboxed run's output, kept within [`MAX_OUTPUT_BYTES`]: the head and
//! the tail, with a note of what was dropped between them.

use super::MAX_OUTPUT_BYTES;

/// Reads a pipe to its end (blocking), keeping at most [`MAX_OUTPUT_BYTES`]:
/// the head and the tail, with a note of what was dropped between them.
pub(super) fn read_capped(mut pipe: impl std::io::Read) -> Vec<u8> {
    let half = MAX_OUTPUT_BYTES / 2;
    let mut head = Vec::new();
    let mut tail = std::collections::VecDeque::new();
    let mut dropped = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        if head.len() < half {
            let take = chunk.len().min(half - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend(chunk.iter().copied());
        while tail.len() > half {
            tail.pop_front();
            dropped += 1;
        }
    }
    if dropped > 0 {
        head.extend_from_slice(format!("\n[… {dropped} bytes of output omitted …]\n").as_bytes());
    }
    head.extend(tail);
    head
}

/// Keeps the head and tail of long output.
pub(super) fn trim_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.into_owned();
    }
    let half = MAX_OUTPUT_BYTES / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}\n[… {} bytes of output omitted …]\n{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}
