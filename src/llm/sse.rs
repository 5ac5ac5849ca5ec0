//! An incremental Server-Sent Events parser shared by every HTTP provider
//! (WHATWG HTML, "Server-sent events", §9.2.6 "Interpreting an event stream";
//! the edge cases of `docs/wire-formats.md` §0 and §6).
//!
//! Bytes go in as they arrive, in chunks of any size cut at any byte; events come
//! out when complete. Lines end with `\r\n`, `\n` or a bare `\r`, and a `\r\n`
//! split across two chunks is one line end. Bytes are buffered and only complete
//! lines are decoded as UTF-8, so a character cut between chunks is never
//! mangled. Comment lines (`: keep-alive`) are skipped; several `data:` lines
//! join with `\n`; an event without data is not dispatched.
//!
//! Two deliberate departures from a browser's EventSource, both for LLM streams:
//! at the end of the stream a last line without a line end, and an event without
//! the final blank line, are dispatched rather than discarded (servers that close
//! right after their last event); and lines that are not SSE fields at all (a
//! bare JSON object, as Gemini sends for a mid-stream error) are reported as
//! [`SseItem::Other`] instead of being ignored silently.
//!
//! Why not the `eventsource-stream` crate: it discards a final event that lacks
//! its blank line, never finishes a trailing `\r` at the end of the stream, and
//! copies the remaining buffer once per line (quadratic in a large chunk).

/// One complete event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` when absent.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// What the parser produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    /// A complete event.
    Event(SseEvent),
    /// A non-empty line that is neither a comment nor a known field (`data`,
    /// `event`, `id`, `retry`), e.g. a line of a bare JSON error body.
    Other(String),
}

/// A stream the parser refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// Not UTF-8 where it must be.
    #[error("the event stream holds invalid UTF-8 in a line of {len} bytes")]
    InvalidUtf8 {
        /// Length of the offending line in bytes.
        len: usize,
    },
    /// The unfinished line plus the pending event's data passed the
    /// parser's limit ([`SseParser::with_limit`]): a line that never ends,
    /// or `data:` lines that never reach their blank line.
    #[error("one event of the stream passed {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
}

/// The parser's state between chunks.
#[derive(Clone, Debug, Default)]
pub struct SseParser {
    /// Bytes of the unfinished line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    /// Nothing has been read yet (a byte-order mark may come first).
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    /// Most bytes buffered for one event (`None`: no limit).
    limit: Option<usize>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// A parser that buffers at most `limit` bytes for one event (its
    /// unfinished line, its `data:` lines and its `event:` name together):
    /// past it, [`SseParser::feed`] fails with [`SseError::TooLong`], so a
    /// line without an end cannot grow memory without bound.
    pub fn with_limit(limit: usize) -> Self {
        SseParser {
            limit: Some(limit),
            ..SseParser::default()
        }
    }

    /// [`SseError::TooLong`] when what is buffered passed the limit.
    fn check(&self) -> Result<(), SseError> {
        match self.limit {
            Some(limit) if self.line.len() + self.data.len() + self.event.len() > limit => {
                Err(SseError::TooLong { limit })
            }
            _ => Ok(()),
        }
    }

    /// Feeds a chunk; complete items are appended to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if !self.started && !chunk.is_empty() {
            self.started = true;
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF") {
                chunk = rest;
            }
        }
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, rest) = chunk.split_at(end);
            let eol = rest[0];
            let mut rest = &rest[1..];
            if eol == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if self.line.is_empty() {
                self.process(head, out)?;
            } else {
                self.line.extend_from_slice(head);
                self.check()?;
                let line = std::mem::take(&mut self.line);
                self.process(&line, out)?;
            }
            self.check()?;
            chunk = rest;
        }
        self.line.extend_from_slice(chunk);
        self.check()
    }

    /// Ends the stream: a last line without a line end is processed, and a
    /// pending event is dispatched.
    pub fn finish(&mut self, out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process(&line, out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if std::mem::take(&mut self.has_data) {
            out.push(SseItem::Event(SseEvent {
                event: if event.is_empty() {
                    "message".to_string()
                } else {
                    event
                },
                data,
            }));
        }
    }

    fn process(&mut self, line: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line =
            std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8 { len: line.len() })?;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            "id" | "retry" => {}
            _ => out.push(SseItem::Other(line.to_string())),
        }
        Ok(())
    }
}

/// Parses a whole stream at once (tests, benchmarks).
pub fn parse_all(bytes: &[u8]) -> Result<Vec<SseItem>, SseError> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    parser.feed(bytes, &mut out)?;
    parser.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(event: &str, data: &str) -> SseItem {
        SseItem::Event(SseEvent {
            event: event.into(),
            data: data.into(),
        })
    }

    #[test]
    fn line_endings_comments_and_multiline_data() {
        let items = parse_all(b": keep-alive\ndata: a\r\ndata:b\r\revent: x\rdata: c\n\nid: 7\n\n")
            .unwrap();
        assert_eq!(items, vec![ev("message", "a\nb"), ev("x", "c")]);
        // An event without data is not dispatched; `data:` with an empty value is.
        let items = parse_all(b"event: ping\n\ndata:\n\n").unwrap();
        assert_eq!(items, vec![ev("message", "")]);
    }

    #[test]
    fn a_split_crlf_is_one_line_end() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(b"data: a\r", &mut out).unwrap();
        p.feed(b"\n\r", &mut out).unwrap();
        p.feed(b"\ndata: b\r\n\r\n", &mut out).unwrap();
        p.finish(&mut out).unwrap();
        assert_eq!(out, vec![ev("message", "a"), ev("message", "b")]);
    }

    #[test]
    fn a_missing_final_newline_still_dispatches() {
        assert_eq!(
            parse_all(b"data: {\"x\":1}").unwrap(),
            vec![ev("message", "{\"x\":1}")]
        );
        assert_eq!(
            parse_all(b"data: last\n").unwrap(),
            vec![ev("message", "last")]
        );
        assert_eq!(parse_all(b"data: a\r").unwrap(), vec![ev("message", "a")]);
    }

    #[test]
    fn utf8_cut_between_chunks_survives_and_bad_utf8_is_an_error() {
        let text = "data: héllo wörld ✓\n\n".as_bytes();
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for b in text {
            p.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out, vec![ev("message", "héllo wörld ✓")]);
        assert!(parse_all(b"data: \xff\xfe\n\n").is_err());
    }

    #[test]
    fn non_field_lines_are_reported() {
        let items =
            parse_all(b"data: {\"a\":1}\r\n\r\n{\n  \"error\": {\"code\": 499}\n}\n").unwrap();
        assert_eq!(
            items,
            vec![
                ev("message", "{\"a\":1}"),
                SseItem::Other("{".into()),
                SseItem::Other("  \"error\": {\"code\": 499}".into()),
                SseItem::Other("}".into()),
            ]
        );
    }

    #[test]
    fn a_limit_bounds_an_endless_line_and_an_endless_event() {
        // A line that never ends, fed a piece at a time, fails once past the
        // limit and holds no more than the limit plus one piece.
        let mut p = SseParser::with_limit(1000);
        let mut out = Vec::new();
        let piece = [b'x'; 64];
        let mut fed = 0;
        let err = loop {
            match p.feed(&piece, &mut out) {
                Ok(()) => fed += piece.len(),
                Err(e) => break e,
            }
            assert!(fed <= 1000, "fed {fed} without an error");
        };
        assert_eq!(err, SseError::TooLong { limit: 1000 });
        assert!(p.line.len() <= 1000 + piece.len());
        // `data:` lines that never reach their blank line.
        let mut p = SseParser::with_limit(1000);
        let mut fed = 0;
        let err = loop {
            match p.feed(
                b"data: 0123456789012345678901234567890123456789\n",
                &mut out,
            ) {
                Ok(()) => fed += 1,
                Err(e) => break e,
            }
            assert!(fed <= 100);
        };
        assert_eq!(err, SseError::TooLong { limit: 1000 });
        assert!(out.is_empty());
        // Events under the limit pass, however many.
        let mut p = SseParser::with_limit(100);
        for _ in 0..1000 {
            p.feed(b"data: 0123456789\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            parse_all(b"\xEF\xBB\xBFdata: x\n\n").unwrap(),
            vec![ev("message", "x")]
        );
    }

    /// Streams recorded from the three providers (docs/wire-formats.md §1.3, §2.3, §3.3).
    pub(crate) const RECORDED: [&str; 3] = [
        "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"I'm\"}}]}\n\n: keep-alive\n\ndata: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":30}}\n\ndata: [DONE]\n\n",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}   }\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello ✓\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"}}]}\r\n\r\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" capital — Cheyenne\"}],\"role\": \"model\"},\"finishReason\": \"STOP\"}]}\r\n\r\n",
    ];

    proptest! {
        #[test]
        fn any_split_of_a_recorded_stream_gives_the_same_events(
            which in 0usize..3,
            cuts in proptest::collection::vec(0usize..600, 0..40),
        ) {
            let bytes = RECORDED[which].as_bytes();
            let whole = parse_all(bytes).unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut p = SseParser::new();
            let mut out = Vec::new();
            let mut at = 0;
            for cut in cuts {
                p.feed(&bytes[at..cut], &mut out).unwrap();
                at = cut;
            }
            p.feed(&bytes[at..], &mut out).unwrap();
            p.finish(&mut out).unwrap();
            prop_assert_eq!(out, whole);
        }
    }
}
