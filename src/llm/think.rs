//! Reasoning text inside a reply's content: the `<think>…</think>` block
//! that reasoning models served over OpenAI-compatible APIs (Ollama,
//! DeepSeek-R1, Qwen3, vLLM without a reasoning parser) put at the start of
//! the content stream. [`ThinkSplitter`] routes the block to
//! [`Chunk::Reasoning`] and the rest to [`Chunk::Text`], streaming: the tags
//! may be split across chunks, so a piece that could be the start of a tag
//! is held until the next one tells.
//!
//! Only a block at the start (after any whitespace) counts: a `<think>` later
//! in a reply is the reply's own text.

use super::Chunk;

/// The opening tag.
const OPEN: &str = "<think>";
/// The closing tag.
const CLOSE: &str = "</think>";

/// Where the splitter is in the content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace and perhaps part of `<think>` seen yet.
    #[default]
    Start,
    /// Inside the block.
    Thinking,
    /// Past the block (or there was none): all text is the reply.
    Reply,
}

/// Splits a content stream into reasoning and reply text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThinkSplitter {
    state: State,
    /// Text held back: the start of the stream while it could still open a
    /// block, or the end of the reasoning while it could begin `</think>`.
    held: String,
    /// The block just closed: the whitespace that starts the reply is dropped.
    trim: bool,
}

/// Bytes at the end of `text` that are a proper prefix of `tag`, longest
/// first (0 when none).
fn partial_tag(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| text.ends_with(&tag[..n]))
        .unwrap_or(0)
}

impl ThinkSplitter {
    /// The chunks `text`, the next piece of content, gives (perhaps none yet).
    pub fn push(&mut self, text: &str) -> Vec<Chunk> {
        let mut out = Vec::new();
        match self.state {
            State::Reply => self.reply(text, &mut out),
            State::Start => {
                self.held.push_str(text);
                let head = self.held.trim_start();
                if let Some(rest) = head.strip_prefix(OPEN) {
                    let rest = rest.to_string();
                    self.held.clear();
                    self.state = State::Thinking;
                    self.thinking(&rest, &mut out);
                } else if head.is_empty() || OPEN.starts_with(head) {
                    // Whitespace or the start of `<think>`: wait for more.
                } else {
                    self.state = State::Reply;
                    let held = std::mem::take(&mut self.held);
                    self.reply(&held, &mut out);
                }
            }
            State::Thinking => self.thinking(text, &mut out),
        }
        out
    }

    /// The chunks still held when the content ends: an unclosed block is
    /// all reasoning; a stream that only began like a tag is reply text.
    pub fn finish(&mut self) -> Vec<Chunk> {
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return Vec::new();
        }
        match self.state {
            State::Thinking => vec![Chunk::Reasoning(held)],
            State::Start | State::Reply => vec![Chunk::Text(held)],
        }
    }

    /// Reply text, without the whitespace right after a closed block.
    fn reply(&mut self, text: &str, out: &mut Vec<Chunk>) {
        let text = if self.trim { text.trim_start() } else { text };
        if !text.is_empty() {
            self.trim = false;
            out.push(Chunk::Text(text.to_string()));
        }
    }

    /// Text inside the block: reasoning up to `</think>`, the reply after it.
    fn thinking(&mut self, text: &str, out: &mut Vec<Chunk>) {
        self.held.push_str(text);
        if let Some(at) = self.held.find(CLOSE) {
            let reasoning = self.held[..at].to_string();
            let rest = self.held[at + CLOSE.len()..].to_string();
            self.held.clear();
            if !reasoning.is_empty() {
                out.push(Chunk::Reasoning(reasoning));
            }
            self.state = State::Reply;
            self.trim = true;
            self.reply(&rest, out);
            return;
        }
        // Keep back what could begin `</think>` (ASCII, so a char boundary).
        let keep = partial_tag(&self.held, CLOSE);
        let cut = self.held.len() - keep;
        if cut > 0 {
            let reasoning: String = self.held.drain(..cut).collect();
            out.push(Chunk::Reasoning(reasoning));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The reasoning and the reply `pieces` give, each joined.
    fn split(pieces: &[&str]) -> (String, String) {
        let mut s = ThinkSplitter::default();
        let mut chunks = Vec::new();
        for p in pieces {
            chunks.extend(s.push(p));
        }
        chunks.extend(s.finish());
        let (mut reasoning, mut reply) = (String::new(), String::new());
        for c in chunks {
            match c {
                Chunk::Reasoning(t) => reasoning.push_str(&t),
                Chunk::Text(t) => reply.push_str(&t),
                Chunk::Usage(_) => {}
            }
        }
        (reasoning, reply)
    }

    #[test]
    fn a_block_at_the_start_is_reasoning() {
        assert_eq!(
            split(&["<think>\nLet me see.\n</think>\n\n{\"a\": 1}"]),
            ("\nLet me see.\n".into(), "{\"a\": 1}".into())
        );
    }

    #[test]
    fn tags_split_across_chunks_are_found() {
        let whole = "  <think>hmm, a < b and </thin is not it</think>{\"ok\": true}";
        // Every way of cutting the stream in two, and one char a piece.
        for cut in 0..=whole.len() {
            let got = split(&[&whole[..cut], &whole[cut..]]);
            assert_eq!(
                got,
                (
                    "hmm, a < b and </thin is not it".into(),
                    "{\"ok\": true}".into()
                ),
                "cut at {cut}"
            );
        }
        let chars: Vec<String> = whole.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(split(&refs).1, "{\"ok\": true}");
    }

    #[test]
    fn a_reply_without_a_block_is_untouched() {
        assert_eq!(
            split(&["{\"a\":", " 1}"]),
            (String::new(), "{\"a\": 1}".into())
        );
        // Something that starts like the tag but is not.
        assert_eq!(split(&["<th", "ings>"]), (String::new(), "<things>".into()));
        assert_eq!(split(&["<thi"]), (String::new(), "<thi".into()));
        // A block later in the reply is the reply's own text.
        assert_eq!(
            split(&["ok <think>x</think>"]),
            (String::new(), "ok <think>x</think>".into())
        );
        assert_eq!(split(&[]), (String::new(), String::new()));
    }

    #[test]
    fn an_unclosed_block_is_all_reasoning() {
        assert_eq!(
            split(&["<think>still going </thi"]),
            ("still going </thi".into(), String::new())
        );
    }

    #[test]
    fn reasoning_streams_as_it_comes() {
        let mut s = ThinkSplitter::default();
        assert!(s.push("<thi").is_empty());
        assert_eq!(
            s.push("nk>step one"),
            vec![Chunk::Reasoning("step one".into())]
        );
        assert_eq!(s.push(" two </"), vec![Chunk::Reasoning(" two ".into())]);
        assert_eq!(s.push("think> {}"), vec![Chunk::Text("{}".into())]);
        assert!(s.finish().is_empty());
    }
}
