//! A tantivy query for text that *starts with* some words: a description that begins "Memory
//! manager …" says what the row is; one that mentions a "video memory manager" in passing
//! does not. Tantivy's phrase query matches anywhere in a field; this one matches only at the
//! first position of the field's first value.

use tantivy::postings::Postings;
use tantivy::query::{ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Documents whose field (the one the terms are of) starts with the terms, in order.
#[derive(Debug, Clone)]
pub struct LeadingPhraseQuery {
    terms: Vec<Term>,
}

impl LeadingPhraseQuery {
    /// `None` without terms, or with terms of several fields.
    pub fn new(terms: Vec<Term>) -> Option<Self> {
        let field = terms.first()?.field();
        terms
            .iter()
            .all(|t| t.field() == field)
            .then_some(Self { terms })
    }
}

impl Query for LeadingPhraseQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(LeadingPhraseWeight {
            terms: self.terms.clone(),
        }))
    }
}

struct LeadingPhraseWeight {
    terms: Vec<Term>,
}

impl LeadingPhraseWeight {
    /// The segment's documents that start with the terms, in order.
    fn matching(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let inverted = reader.inverted_index(self.terms[0].field())?;
        let mut postings = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            match inverted.read_postings(term, IndexRecordOption::WithFreqsAndPositions)? {
                Some(p) => postings.push(p),
                None => return Ok(Vec::new()),
            }
        }
        let (first, rest) = postings.split_at_mut(1);
        let first = &mut first[0];
        let mut docs = Vec::new();
        let mut positions = Vec::new();
        let mut doc = first.doc();
        'docs: while doc != TERMINATED {
            positions.clear();
            first.positions(&mut positions);
            if positions.first() == Some(&0) {
                for (i, other) in rest.iter_mut().enumerate() {
                    if other.doc() > doc || other.seek(doc) != doc {
                        doc = first.advance();
                        continue 'docs;
                    }
                    positions.clear();
                    other.positions(&mut positions);
                    if !positions.contains(&(i as u32 + 1)) {
                        doc = first.advance();
                        continue 'docs;
                    }
                }
                docs.push(doc);
            }
            doc = first.advance();
        }
        Ok(docs)
    }
}

/// Document ids found beforehand, in order.
struct Docs {
    docs: Vec<DocId>,
    at: usize,
}

impl DocSet for Docs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.at) as u32
    }
}

impl Weight for LeadingPhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ConstScorer::new(
            Docs {
                docs: self.matching(reader)?,
                at: 0,
            },
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching(reader)?.contains(&doc) {
            Ok(Explanation::new("LeadingPhraseQuery", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not start with the phrase"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::DocSetCollector;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{Index, TantivyDocument};

    #[test]
    fn only_text_that_starts_with_the_words_matches() {
        let mut builder = Schema::builder();
        let text = builder.add_text_field("text", TEXT);
        let index = Index::create_in_ram(builder.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for value in [
            "Memory manager allocations",
            "Video memory manager pool",
            "memory, manager",
            "manager memory",
            "Memory",
        ] {
            let mut doc = TantivyDocument::default();
            doc.add_text(text, value);
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let terms = ["memory", "manager"]
            .map(|w| Term::from_field_text(text, w))
            .to_vec();
        let query = LeadingPhraseQuery::new(terms).unwrap();
        let found: Vec<u32> = {
            let mut docs: Vec<u32> = searcher
                .search(&query, &DocSetCollector)
                .unwrap()
                .into_iter()
                .map(|a| a.doc_id)
                .collect();
            docs.sort_unstable();
            docs
        };
        assert_eq!(found, [0, 2]);
        assert!(LeadingPhraseQuery::new(Vec::new()).is_none());
    }
}
