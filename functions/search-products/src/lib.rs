//! GET /v1/products/search?q=&category=&min_price=&max_price=&in_stock=&limit=&cursor=
//!
//! Full-text search of the live catalog (see [`index`] for the ranking).
//!
//! - **Where the index lives.** In this instance's memory: built from the
//!   catalog on the first search (one Query per 100 products), then kept
//!   fresh from the search log (store::search), which the search indexer
//!   writes from the `product.changed` events every catalog edit puts in
//!   the outbox. The log is read at most once a second, so an edit is
//!   searchable within a second or two of the indexer seeing it.
//! - **What a result shows.** The products of a page are read live (one
//!   BatchGetItem): stock, price and deletion are as of now, not as of the
//!   index, so the `in_stock` filter never shows a sold-out item, and a
//!   product deleted a moment ago is never shown.
//! - **Pages.** Ranked by score, then SKU. The cursor is the last result's
//!   (score, SKU), signed and bound to the query and filters, so a page
//!   starts exactly after the previous one: no duplicates, no gaps, even
//!   when another instance (with its own index) serves the next page.
//!   With `in_stock=true` a page may hold fewer than `limit` products; only
//!   a missing `next_cursor` means the end.

pub mod index;

use std::time::{Duration, Instant};

use lambda_http::{http::StatusCode, Body, Request, Response};
use quiet_core::{
    clock,
    domain::{cursor::InvalidCursor, Category, Cursor, CursorKey, PageLimit, Product, Sku},
    error::FieldError,
    http::{json, query_param},
    openapi::{ProblemDoc, PROBLEM_JSON},
    store::{search::RETENTION_MS, ProductStore, SearchDoc, SearchLog},
    ApiError,
};
use tokio::sync::Mutex;

use index::{Catalog, Hit, IndexError, Search, MAX_WORDS};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// How often an instance reads the search log.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Each read of the log starts this long before the previous one did, so
/// an entry written late (a slow indexer, a clock a little off) is not
/// missed; entries read twice change nothing.
const MARGIN_MS: u64 = 10_000;
/// At most this many reads of live products per search (each of up to
/// `limit` products), when `in_stock` skips sold-out matches.
const MAX_READS: usize = 4;

pub struct Deps<P, L> {
    pub products: P,
    pub log: L,
    pub cursor_key: CursorKey,
    pub state: Mutex<Option<State>>,
}

impl<P, L> Deps<P, L> {
    pub fn new(products: P, log: L, cursor_key: CursorKey) -> Self {
        Self {
            products,
            log,
            cursor_key,
            state: Mutex::new(None),
        }
    }
}

/// This instance's index and how far into the search log it has read.
pub struct State {
    catalog: Catalog,
    /// Wall time (epoch ms) at which the last read of the log started.
    read_from_ms: u64,
    looked: Instant,
}

fn internal(err: IndexError) -> ApiError {
    ApiError::internal(err)
}

/// Builds the index from the whole live catalog.
async fn build<P: ProductStore, L>(deps: &Deps<P, L>) -> Result<State, ApiError> {
    let started = clock::now_ms();
    let mut catalog = Catalog::new().map_err(internal)?;
    let mut after: Option<Sku> = None;
    loop {
        let page = deps
            .products
            .list(None, PageLimit::LARGEST, after.as_ref())
            .await?;
        let docs: Vec<SearchDoc> = page.items.iter().map(SearchDoc::from).collect();
        catalog
            .apply(docs.iter().map(|doc| (&doc.sku, Some(doc))))
            .map_err(internal)?;
        match page.last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    tracing::info!(products = catalog.index.len(), "search index built");
    Ok(State {
        catalog,
        read_from_ms: started,
        looked: Instant::now(),
    })
}

/// Applies what the search log says changed since this instance last read it.
async fn catch_up<L: SearchLog>(log: &L, state: &mut State) -> Result<(), ApiError> {
    let started = clock::now_ms();
    let entries = log
        .since(state.read_from_ms.saturating_sub(MARGIN_MS))
        .await?;
    let applied = state
        .catalog
        .apply(entries.iter().map(|entry| (&entry.sku, entry.doc.as_ref())))
        .map_err(internal)?;
    if applied > 0 {
        tracing::info!(applied, "search index caught up");
    }
    state.read_from_ms = started;
    state.looked = Instant::now();
    Ok(())
}

/// The ranked matches of `search` on an index at most a second behind the log.
async fn matches<P: ProductStore, L: SearchLog>(
    deps: &Deps<P, L>,
    search: &Search,
) -> Result<Vec<Hit>, ApiError> {
    let mut state = deps.state.lock().await;
    match state.as_mut() {
        Some(current) if current.looked.elapsed() < LOOK_EVERY => {}
        // Older than the log keeps: entries may be gone, so start over.
        Some(current)
            if clock::now_ms().saturating_sub(current.read_from_ms) < RETENTION_MS / 2 =>
        {
            catch_up(&deps.log, current).await?;
        }
        _ => *state = Some(build(deps).await?),
    }
    let Some(current) = state.as_ref() else {
        return Ok(Vec::new());
    };
    current.catalog.index.search(search).map_err(internal)
}

fn param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    query_param(req, name).filter(|v| !v.is_empty())
}

fn parse_query(raw: Option<&str>) -> Result<Vec<String>, String> {
    let text = raw.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Err("is required: the words to search for".into());
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(format!("must be at most {MAX_QUERY_CHARS} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let words = index::words(text);
    if words.len() > MAX_WORDS {
        return Err(format!("must be at most {MAX_WORDS} words"));
    }
    Ok(words)
}

fn parse_price(raw: Option<&str>) -> Result<Option<u64>, String> {
    raw.map(|raw| {
        raw.parse::<u64>()
            .map_err(|_| "must be a whole number of minor units (cents), 0 or more".to_string())
    })
    .transpose()
}

fn parse_flag(raw: Option<&str>) -> Result<bool, String> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err("must be true or false".into()),
    }
}

/// What one search request asks for.
struct Wanted {
    search: Search,
    in_stock: bool,
    limit: PageLimit,
}

fn parse(req: &Request) -> Result<Wanted, ApiError> {
    let words = parse_query(query_param(req, "q"));
    let category = param(req, "category")
        .map(|c| Category::try_from(c.to_string()))
        .transpose();
    let min_price = parse_price(param(req, "min_price"));
    let max_price = parse_price(param(req, "max_price"));
    let in_stock = parse_flag(param(req, "in_stock"));
    let limit = PageLimit::parse(param(req, "limit"));
    match (words, category, min_price, max_price, in_stock, limit) {
        (Ok(words), Ok(category), Ok(min_price), Ok(max_price), Ok(in_stock), Ok(limit)) => {
            if let (Some(min), Some(max)) = (min_price, max_price) {
                if min > max {
                    return Err(ApiError::Validation(vec![FieldError::new(
                        "max_price",
                        "must not be below min_price",
                    )]));
                }
            }
            Ok(Wanted {
                search: Search {
                    words,
                    category,
                    min_price,
                    max_price,
                },
                in_stock,
                limit,
            })
        }
        (words, category, min_price, max_price, in_stock, limit) => {
            let errors = [
                ("q", words.err()),
                ("category", category.err()),
                ("min_price", min_price.err()),
                ("max_price", max_price.err()),
                ("in_stock", in_stock.err()),
                ("limit", limit.err()),
            ]
            .into_iter()
            .filter_map(|(field, err)| err.map(|message| FieldError::new(field, message)))
            .collect();
            Err(ApiError::Validation(errors))
        }
    }
}

/// The cursor's scope: the search it pages through, however it was spelled.
fn scope(request: &Wanted) -> String {
    let s = &request.search;
    let price = |p: Option<u64>| p.map(|p| p.to_string()).unwrap_or_default();
    format!(
        "search|{}|{}|{}|{}|{}",
        s.words.join(" "),
        s.category.as_ref().map_or("", Category::as_str),
        price(s.min_price),
        price(s.max_price),
        request.in_stock
    )
}

fn encode_position(hit: &Hit) -> String {
    format!("{:08x}:{}", hit.score.to_bits(), hit.sku)
}

fn decode_position(after: &str) -> Option<(f32, Sku)> {
    let (bits, sku) = after.split_once(':')?;
    let score = f32::from_bits(u32::from_str_radix(bits, 16).ok()?);
    Some((score, Sku::try_from(sku.to_string()).ok()?))
}

/// Whether the live product still fits the filters the index matched on
/// (an edit the index has not seen yet), and is in stock if asked.
fn still_fits(product: &Product, request: &Wanted) -> bool {
    let s = &request.search;
    let price = product.price.amount.get();
    s.category.as_ref().is_none_or(|c| &product.category == c)
        && s.min_price.is_none_or(|min| price >= min)
        && s.max_price.is_none_or(|max| price <= max)
        && (!request.in_stock || product.stock > 0)
}

#[utoipa::path(
    get,
    path = "/v1/products/search",
    tag = "catalog",
    operation_id = "search-products",
    params(
        ("q" = String, Query, min_length = 1, max_length = 200, description = "Words to find in name, description or category; typos within one edit and unfinished words still match; English stop words are ignored"),
        ("category" = Option<String>, Query, pattern = "^[a-z0-9-]{0,50}$", description = "Only this category slug; empty means all"),
        ("min_price" = Option<u64>, Query, description = "Lowest price, in minor units"),
        ("max_price" = Option<u64>, Query, description = "Highest price, in minor units"),
        ("in_stock" = Option<bool>, Query, description = "Only products with stock now"),
        ("limit" = Option<quiet_core::domain::PageLimit>, Query),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page")
    ),
    responses(
        (status = 200, description = "One page of matching live products, best match first; with in_stock a page may be short, and only a missing next_cursor means the end", body = quiet_core::pages::Page<quiet_core::domain::Product>),
        (status = 400, description = "The cursor was tampered with or belongs to another search", content_type = PROBLEM_JSON, body = ProblemDoc),
        (status = 422, description = "Missing, too long or control characters in q; invalid filter or limit", content_type = PROBLEM_JSON, body = ProblemDoc)
    )
)]
pub async fn handler<P: ProductStore, L: SearchLog>(
    deps: &Deps<P, L>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let request = parse(&req)?;
    let scope = scope(&request);
    let after = param(&req, "cursor")
        .map(|token| {
            Cursor::decode(token, &deps.cursor_key, &scope)
                .ok()
                .and_then(|cursor| decode_position(&cursor.after))
                .ok_or_else(|| ApiError::BadRequest(InvalidCursor.to_string()))
        })
        .transpose()?;

    let hits = matches(deps, &request.search).await?;
    let candidates: Vec<&Hit> = hits
        .iter()
        .filter(|hit| {
            after
                .as_ref()
                .is_none_or(|(score, sku)| hit.is_after(*score, sku))
        })
        .collect();

    // Read live in ranked order until the page is full: one read unless
    // `in_stock` skips sold-out matches.
    let limit = request.limit.get();
    let mut items = Vec::with_capacity(limit);
    let (mut considered, mut reads) = (0, 0);
    while considered < candidates.len() && items.len() < limit && reads < MAX_READS {
        let chunk = &candidates[considered..(considered + limit).min(candidates.len())];
        let skus: Vec<Sku> = chunk.iter().map(|hit| hit.sku.clone()).collect();
        let mut live = deps.products.get_many(&skus).await?;
        reads += 1;
        for hit in chunk {
            considered += 1;
            if let Some(product) = live.remove(&hit.sku).filter(|p| still_fits(p, &request)) {
                items.push(product);
                if items.len() == limit {
                    break;
                }
            }
        }
    }
    let next_cursor = (considered < candidates.len())
        .then(|| candidates.get(considered.wrapping_sub(1)))
        .flatten()
        .map(|hit| {
            Cursor {
                scope: scope.clone(),
                after: encode_position(hit),
            }
            .encode(&deps.cursor_key)
        });
    Ok(json(
        StatusCode::OK,
        &quiet_core::pages::Page { items, next_cursor },
    ))
}
