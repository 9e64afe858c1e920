//! The catalog's full-text index: tantivy, in memory, one per instance.
//!
//! - Text is split on anything not a letter or digit, lowercased, folded
//!   to ASCII ("Crème" finds "creme") and stripped of English stop words,
//!   the same way for the catalog and for what a shopper types.
//! - Every word of the query must match the product, in its name,
//!   description or category, in one of three ways, best first: exactly;
//!   within one edit ("sench" is "sencha"'s prefix, "kettel" is one swap
//!   from "kettle"); or as the start of a word ("kett"). Name matches
//!   weigh most, then category, then description.
//! - A product whose whole name is the query comes first.
//! - Filters (category, price range) narrow without changing the order.
//! - Scores are sums of these fixed weights, not BM25. BM25 weighs a word
//!   by how many products have it, so an instance one edit behind another
//!   would score every product differently, and a cursor's (score, SKU)
//!   from one would skip or repeat results on the other (an e2e test
//!   walking pages across instances found it). Fixed weights move only
//!   the product that changed. Ties go to the SKU.
//!
//! The user's text never reaches tantivy's query parser: it is tokenized
//! and each word becomes term queries, so `"`, `:`, `*` or `~` mean nothing.

use std::collections::HashMap;
use std::ops::Bound;

use quiet_core::{
    domain::{Category, Sku},
    store::SearchDoc,
};
use tantivy::{
    collector::TopDocs,
    query::{BooleanQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery},
    schema::{
        Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED,
        STORED, STRING,
    },
    tokenizer::{
        AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter,
        TextAnalyzer,
    },
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

/// At most this many matches are ranked; a query matching more is too
/// broad to page through, and the rest are not returned.
pub const MAX_MATCHES: usize = 1000;

/// Words in a query, after stop words are dropped.
pub const MAX_WORDS: usize = 16;

/// A word shorter than this is matched exactly or as a prefix only: one
/// edit away from a three-letter word is half the dictionary.
const FUZZY_FROM_LEN: usize = 4;

/// Tantivy's least writer budget; memory is taken as documents arrive.
const WRITER_BUDGET: usize = 15_000_000;

const ANALYZER: &str = "words";

/// Lucene's English stop words: in a product query they carry no meaning.
const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct IndexError(String);

impl From<tantivy::TantivyError> for IndexError {
    fn from(err: tantivy::TantivyError) -> Self {
        Self(err.to_string())
    }
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(STOP_WORDS.map(String::from)))
        .build()
}

/// The words of `text` as the index sees them.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while let Some(token) = stream.next() {
        words.push(token.text.clone());
    }
    words
}

/// A whole name as one exact-match key.
fn name_key(name: &str) -> String {
    words(name).join(" ")
}

#[derive(Clone, Copy)]
struct Fields {
    sku: Field,
    name: Field,
    name_key: Field,
    description: Field,
    category: Field,
    category_key: Field,
    price: Field,
}

/// What a search asks for, already valid.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub words: Vec<String>,
    pub category: Option<Category>,
    pub min_price: Option<u64>,
    pub max_price: Option<u64>,
}

/// A ranked match: higher scores first, then SKUs in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub score: f32,
    pub sku: Sku,
}

impl Hit {
    /// Whether this hit ranks after `(score, sku)`.
    pub fn is_after(&self, score: f32, sku: &Sku) -> bool {
        self.score < score || (self.score == score && &self.sku > sku)
    }
}

pub struct CatalogIndex {
    fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
}

impl CatalogIndex {
    pub fn new() -> Result<Self, IndexError> {
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let mut schema = Schema::builder();
        let fields = Fields {
            sku: schema.add_text_field("sku", STRING | STORED),
            name: schema.add_text_field("name", text.clone()),
            name_key: schema.add_text_field("name_key", STRING),
            description: schema.add_text_field("description", text.clone()),
            category: schema.add_text_field("category", text),
            category_key: schema.add_text_field("category_key", STRING),
            price: schema.add_u64_field("price", INDEXED | FAST),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            fields,
            writer,
            reader,
        })
    }

    /// Replaces what the index holds for each SKU: `Some` (re)indexes the
    /// product, `None` removes it. Searches see the changes once this returns.
    pub fn apply<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a Sku, Option<&'a SearchDoc>)>,
    ) -> Result<usize, IndexError> {
        let f = self.fields;
        let mut applied = 0;
        for (sku, doc) in changes {
            self.writer
                .delete_term(Term::from_field_text(f.sku, sku.as_str()));
            if let Some(doc) = doc {
                let mut document = TantivyDocument::default();
                document.add_text(f.sku, doc.sku.as_str());
                document.add_text(f.name, doc.name.as_str());
                document.add_text(f.name_key, name_key(doc.name.as_str()));
                document.add_text(f.description, doc.description.as_str());
                document.add_text(f.category, doc.category.as_str());
                document.add_text(f.category_key, doc.category.as_str());
                document.add_u64(f.price, doc.price.amount.get());
                self.writer.add_document(document)?;
            }
            applied += 1;
        }
        if applied > 0 {
            self.writer.commit()?;
            self.reader.reload()?;
        }
        Ok(applied)
    }

    /// Every match of `search` (up to [`MAX_MATCHES`]), best first.
    pub fn search(&self, search: &Search) -> Result<Vec<Hit>, IndexError> {
        if search.words.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.query(search);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(MAX_MATCHES).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            let sku = document
                .get_first(self.fields.sku)
                .and_then(|value| value.as_str())
                .and_then(|sku| Sku::try_from(sku.to_string()).ok())
                .ok_or_else(|| IndexError("a document without a valid SKU".into()))?;
            hits.push(Hit { score, sku });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
        Ok(hits)
    }

    /// How many products the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn query(&self, search: &Search) -> BooleanQuery {
        let f = self.fields;
        let last = search.words.len() - 1;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = search
            .words
            .iter()
            .enumerate()
            .map(|(i, word)| (Occur::Must, self.word_query(word, i == last)))
            .collect();
        let whole = Term::from_field_text(f.name_key, &search.words.join(" "));
        clauses.push((Occur::Should, weighed(term(whole), 20.0)));
        let filter = |query: Box<dyn Query>| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(query, 0.0)) as Box<dyn Query>,
            )
        };
        if let Some(category) = &search.category {
            clauses.push(filter(term(Term::from_field_text(
                f.category_key,
                category.as_str(),
            ))));
        }
        if search.min_price.is_some() || search.max_price.is_some() {
            let bound = |price: Option<u64>| match price {
                Some(price) => Bound::Included(Term::from_field_u64(f.price, price)),
                None => Bound::Unbounded,
            };
            clauses.push(filter(Box::new(RangeQuery::new(
                bound(search.min_price),
                bound(search.max_price),
            ))));
        }
        BooleanQuery::new(clauses)
    }

    /// One query word: exact, one edit away, or a prefix, in any text field.
    fn word_query(&self, word: &str, is_last: bool) -> Box<dyn Query> {
        let f = self.fields;
        let mut ways: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, weight) in [(f.name, 3.0), (f.category, 2.0), (f.description, 1.0)] {
            let t = Term::from_field_text(field, word);
            ways.push((Occur::Should, weighed(term(t.clone()), weight)));
            let len = word.chars().count();
            if len >= FUZZY_FROM_LEN {
                // A typo, or a word not finished ("sench" for "sencha").
                let fuzzy = FuzzyTermQuery::new_prefix(t.clone(), 1, true);
                ways.push((Occur::Should, weighed(Box::new(fuzzy), weight * 0.5)));
            } else if is_last && len >= 2 {
                let prefix = FuzzyTermQuery::new_prefix(t, 0, false);
                ways.push((Occur::Should, weighed(Box::new(prefix), weight * 0.5)));
            }
        }
        Box::new(BooleanQuery::new(ways))
    }
}

fn term(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Scores `weight` when `query` matches, whatever the corpus holds.
fn weighed(query: Box<dyn Query>, weight: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, weight))
}

/// The index plus what it has applied, so late and repeated log entries
/// change nothing: per SKU, the catalog version indexed, or deleted.
pub struct Catalog {
    pub index: CatalogIndex,
    seen: HashMap<Sku, Option<u64>>,
}

impl Catalog {
    pub fn new() -> Result<Self, IndexError> {
        Ok(Self {
            index: CatalogIndex::new()?,
            seen: HashMap::new(),
        })
    }

    /// Applies products as read (`Some`) or deletions (`None`), each only
    /// if newer than what the index has for that SKU; how many were new.
    pub fn apply<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a Sku, Option<&'a SearchDoc>)>,
    ) -> Result<usize, IndexError> {
        let mut fresh: HashMap<&Sku, Option<&SearchDoc>> = HashMap::new();
        for (sku, doc) in changes {
            let newer = match (self.seen.get(sku), doc) {
                // A deleted SKU is never used again.
                (Some(None), _) => false,
                (Some(Some(version)), Some(doc)) => doc.version > *version,
                (Some(Some(_)), None) | (None, _) => true,
            };
            if newer {
                self.seen.insert(sku.clone(), doc.map(|d| d.version));
                fresh.insert(sku, doc);
            }
        }
        self.index.apply(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiet_core::store::NewProduct;

    /// The demo shop's catalog (tools/seed), the one `make dev` serves.
    fn demo() -> Vec<SearchDoc> {
        let products: Vec<NewProduct> =
            serde_json::from_str(include_str!("../../../tools/seed/catalog.json"))
                .expect("catalog");
        products
            .into_iter()
            .map(|p| SearchDoc {
                sku: p.sku,
                name: p.name,
                description: p.description,
                category: p.category,
                price: p.price,
                version: 1,
            })
            .collect()
    }

    fn catalog(docs: &[SearchDoc]) -> Catalog {
        let mut catalog = Catalog::new().expect("index");
        catalog
            .apply(docs.iter().map(|d| (&d.sku, Some(d))))
            .expect("indexed");
        catalog
    }

    fn find(catalog: &Catalog, q: &str) -> Vec<String> {
        let search = Search {
            words: words(q),
            ..Search::default()
        };
        catalog
            .index
            .search(&search)
            .expect("search")
            .into_iter()
            .map(|hit| hit.sku.to_string())
            .collect()
    }

    fn first(catalog: &Catalog, q: &str) -> Option<String> {
        find(catalog, q).into_iter().next()
    }

    #[test]
    fn typos_and_unfinished_words_still_find_the_product() {
        let catalog = catalog(&demo());
        assert_eq!(first(&catalog, "sench").as_deref(), Some("TEA-001"));
        assert_eq!(first(&catalog, "sencah").as_deref(), Some("TEA-001"));
        assert_eq!(
            first(&catalog, "gooseneck kettel").as_deref(),
            Some("BRW-003")
        );
        assert_eq!(first(&catalog, "kett").as_deref(), Some("BRW-003"));
        assert_eq!(first(&catalog, "yirgachefe").as_deref(), Some("COF-001"));
        assert_eq!(first(&catalog, "pour over").as_deref(), Some("BRW-001"));
        assert_eq!(first(&catalog, "Pour-Over").as_deref(), Some("BRW-001"));
        assert_eq!(first(&catalog, "crème brûlée"), None);
    }

    #[test]
    fn an_exact_name_ranks_first() {
        let catalog = catalog(&demo());
        // Three products say "tea sampler" somewhere; one is called that.
        assert_eq!(first(&catalog, "tea sampler").as_deref(), Some("GFT-001"));
        assert_eq!(
            first(&catalog, "coffee sampler").as_deref(),
            Some("GFT-002")
        );
        assert_eq!(first(&catalog, "matcha whisk").as_deref(), Some("TWR-005"));
        assert_eq!(first(&catalog, "Glass Teapot").as_deref(), Some("TWR-004"));
        // A name match beats a match in the description alone.
        let teapots = find(&catalog, "teapot");
        assert_eq!(teapots.len(), 2, "{teapots:?}");
        assert!(teapots.contains(&"TWR-001".to_string()));
    }

    #[test]
    fn stop_words_are_ignored() {
        let catalog = catalog(&demo());
        assert_eq!(words("the kettle for a gooseneck"), ["kettle", "gooseneck"]);
        assert_eq!(first(&catalog, "the sencha").as_deref(), Some("TEA-001"));
        assert_eq!(
            find(&catalog, "a tea tray for the table and the sofa"),
            Vec::<String>::new(),
            "every word that is not a stop word must match"
        );
        assert_eq!(
            first(&catalog, "a tray for the tea").as_deref(),
            Some("TWR-007")
        );
        assert!(find(&catalog, "the of and").is_empty());
    }

    #[test]
    fn filters_narrow_without_reordering() {
        let catalog = catalog(&demo());
        let all = catalog
            .index
            .search(&Search {
                words: words("matcha"),
                ..Search::default()
            })
            .expect("search");
        assert_eq!(all.len(), 2);
        let teaware = catalog
            .index
            .search(&Search {
                words: words("matcha"),
                category: Category::try_from("teaware".to_string()).ok(),
                ..Search::default()
            })
            .expect("search");
        assert_eq!(teaware.len(), 1);
        assert_eq!(teaware[0].sku.as_str(), "TWR-005");
        let prices: Vec<u64> = demo().iter().map(|d| d.price.amount.get()).collect();
        let (lo, hi) = (prices[0], prices[0]);
        let priced = catalog
            .index
            .search(&Search {
                words: words("demo"),
                min_price: Some(lo),
                max_price: Some(hi),
                ..Search::default()
            })
            .expect("search");
        let expected = prices.iter().filter(|p| **p == lo).count();
        assert_eq!(priced.len(), expected);
    }

    #[test]
    fn query_syntax_means_nothing() {
        let catalog = catalog(&demo());
        for q in [
            "sencha\"",
            "sencha:*",
            "name:sencha",
            "(sencha OR gyokuro)",
            "sencha~2",
            "+sencha -tea",
            "sencha^100",
            "*",
            "\\",
            "[a TO z]",
            "sencha AND",
            "%00",
            "' OR 1=1 --",
        ] {
            let found = find(&catalog, q);
            assert!(found.len() <= 3, "{q:?} found {found:?}");
        }
        assert_eq!(first(&catalog, "sencha:*").as_deref(), Some("TEA-001"));
        assert_eq!(
            first(&catalog, "(sencha OR gyokuro)"),
            None,
            "every word must match (or is a stop word)"
        );
    }

    #[test]
    fn edits_and_deletes_apply_once_and_in_version_order() {
        let docs = demo();
        let mut catalog = catalog(&docs);
        let mut renamed = docs[0].clone();
        renamed.name =
            quiet_core::domain::product::ProductName::try_from("Kabuse".to_string()).expect("name");
        renamed.description =
            quiet_core::domain::product::Description::try_from("Shaded".to_string()).expect("text");
        renamed.version = 2;
        assert_eq!(
            catalog
                .apply([(&renamed.sku, Some(&renamed))])
                .expect("apply"),
            1
        );
        assert_eq!(first(&catalog, "kabuse").as_deref(), Some("TEA-001"));
        assert!(find(&catalog, "sencha").is_empty());
        // An older state read late changes nothing.
        assert_eq!(
            catalog
                .apply([(&docs[0].sku, Some(&docs[0]))])
                .expect("apply"),
            0
        );
        assert_eq!(first(&catalog, "kabuse").as_deref(), Some("TEA-001"));
        // Deleted is final.
        assert_eq!(catalog.apply([(&renamed.sku, None)]).expect("apply"), 1);
        assert!(find(&catalog, "kabuse").is_empty());
        let mut again = renamed.clone();
        again.version = 3;
        assert_eq!(
            catalog.apply([(&again.sku, Some(&again))]).expect("apply"),
            0
        );
        assert!(find(&catalog, "kabuse").is_empty());
        assert_eq!(catalog.index.len(), docs.len() as u64 - 1);
    }

    #[test]
    fn one_instance_ahead_scores_the_others_the_same() {
        let docs = demo();
        let straight = catalog(&docs);
        // Another instance: every product first under an older name, one
        // extra product added and deleted, then today's catalog.
        let mut winding = Catalog::new().expect("index");
        let old: Vec<SearchDoc> = docs
            .iter()
            .map(|d| SearchDoc {
                name: quiet_core::domain::product::ProductName::try_from(format!("Old {}", d.sku))
                    .expect("name"),
                version: 0,
                ..d.clone()
            })
            .collect();
        winding
            .apply(old.iter().map(|d| (&d.sku, Some(d))))
            .expect("old");
        let extra = SearchDoc {
            sku: Sku::try_from("TEA-999".to_string()).expect("sku"),
            ..docs[0].clone()
        };
        winding.apply([(&extra.sku, Some(&extra))]).expect("extra");
        winding.apply([(&extra.sku, None)]).expect("deleted");
        winding
            .apply(docs.iter().map(|d| (&d.sku, Some(d))))
            .expect("today");
        // And one product this instance has that the other has not yet.
        let newer = SearchDoc {
            sku: Sku::try_from("TEA-998".to_string()).expect("sku"),
            name: quiet_core::domain::product::ProductName::try_from(
                "Sencha Tea Sampler".to_string(),
            )
            .expect("name"),
            ..docs[0].clone()
        };
        winding.apply([(&newer.sku, Some(&newer))]).expect("newer");
        for q in [
            "tea",
            "demo catalog",
            "sench",
            "matcha",
            "tea sampler",
            "kett",
            "cup",
        ] {
            let search = Search {
                words: words(q),
                ..Search::default()
            };
            let mut theirs = winding.index.search(&search).expect("search");
            theirs.retain(|hit| hit.sku != newer.sku);
            assert_eq!(
                straight.index.search(&search).expect("search"),
                theirs,
                "{q}"
            );
        }
    }
}
