//! The refine phase (kind `single`): one task turns the prompt into
//! requirements and questions; each question is answered by the person, by the
//! answers file, or by its default (headless); the phase is done when the
//! requirements stand and every question has its answer.

use super::super::actor::{Actor, Session, Task};
use super::super::inputs;
use super::super::outputs::{self, Requirements};
use super::{PhaseStatus, TaskCounts};
use crate::config::workflow::Phase;
use crate::llm::TaskKind;
use crate::protocol::{Event, EventBody};
use crate::store::RecordKey;

/// Done when the requirements stand and every question has its answer.
pub(super) fn status(s: &Session, phase: &Phase, c: &TaskCounts) -> PhaseStatus {
    let answered = s
        .design
        .questions
        .iter()
        .all(|q| s.design.answers.contains_key(&q.id));
    c.status_when(&phase.name, s.design.requirements.is_some() && answered)
}

impl Actor {
    /// Queues the requirements task.
    pub(super) fn start_refine(&mut self, phase: &Phase, lead: &str) {
        let context = self.input_of(inputs::requirements);
        let task = Actor::new_task(
            phase.name.clone(),
            lead,
            &phase.name,
            TaskKind::Requirements,
            "requirements from the prompt".into(),
            context,
        );
        self.queue_task(task);
    }

    /// Applies the requirements: the questions past `[session] max_questions`
    /// are dropped, the rest asked (and answered at once from the answers
    /// file, or by their defaults headless).
    pub(super) fn accept_requirements(&mut self, task: &Task, text: &str) -> Result<(), String> {
        let mut req: Requirements = outputs::parse_json(text)?;
        outputs::check_requirements(&req)?;
        let cap = self.settings.session.max_questions;
        if req.questions.len() > cap {
            let dropped = req.questions.len() - cap;
            req.questions.truncate(cap);
            self.note(
                &task.agent,
                &task.id,
                &format!("{dropped} question(s) over the limit of {cap} ([session] max_questions) were dropped"),
            );
        }
        self.record(RecordKey::Output, "requirements", &req);
        let questions = req.questions.clone();
        if let Some(s) = self.s() {
            s.design.requirements = Some(req);
            s.design.questions = questions.clone();
        }
        for q in questions {
            self.emit(EventBody::QuestionAsked {
                id: q.id.clone(),
                text: q.text.clone(),
                default: q.default.clone(),
            });
            let (given, interactive) = match self.session.as_ref() {
                Some(s) => (s.options.answers.get(&q.id).cloned(), s.options.interactive),
                None => (None, false),
            };
            match given {
                Some(answer) => self.answer(&q.id, &answer, "answers_file"),
                None if !interactive => self.answer(&q.id, &q.default, "default"),
                None => {}
            }
        }
        Ok(())
    }

    pub(crate) fn answer(&mut self, question: &str, answer: &str, by: &str) {
        let Some(s) = self.session.as_ref() else {
            return self.reject_op("answer", "no session");
        };
        if !s.design.questions.iter().any(|q| q.id == question) {
            return self.reject_op("answer", format!("no question `{question}`"));
        }
        if s.design.answers.contains_key(question) {
            return self.reject_op("answer", format!("question `{question}` is answered"));
        }
        let assumed = by == "default";
        let updated = self.s().and_then(|s| {
            s.design
                .answers
                .insert(question.to_string(), answer.to_string());
            let text = s
                .design
                .questions
                .iter()
                .find(|q| q.id == question)?
                .text
                .clone();
            let req = s.design.requirements.as_mut()?;
            // An unanswered question proceeds on its stated assumption, which
            // the requirements then record (headless without --answers).
            if assumed {
                req.assumptions.push(format!("{text} — assumed: {answer}"));
            }
            Some(req.clone())
        });
        if let Some(req) = updated {
            self.record(RecordKey::Output, "requirements", &req);
        }
        let answers = self
            .session
            .as_ref()
            .map(|s| s.design.answers.clone())
            .unwrap_or_default();
        self.record(RecordKey::Output, "answers", &answers);
        self.emit(EventBody::QuestionAnswered {
            id: question.to_string(),
            answer: answer.to_string(),
            by: by.to_string(),
        });
    }

    pub(super) fn reject_op(&mut self, op: &str, reason: impl Into<String>) {
        self.ephemeral(Event::Rejected {
            op: op.to_string(),
            reason: reason.into(),
        });
    }
}
