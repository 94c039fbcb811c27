//! Customer narratives: each customer's behaviour as of a day written out in a sentence or two
//! (seed §3.2 step 2), e.g. "Joined March 2023; 7 orders, the last 94 days ago, mostly kitchen;
//! two tickets about late delivery; 3 reviews averaging 2.5 stars." — in English, and in Chinese
//! for customers who write Chinese.
//!
//! Two halves: [`gather_facts`] reads a [`NarrativeFacts`] per customer from the store with one
//! SQL query over rows on or before `as_of` only (the as-of features of `Store::features_sql`, the
//! favourite category by spend, the language the customer writes in, and ticket topics); and
//! [`narrate`] / [`narrate_zh`] turn the facts into text, purely and deterministically. The texts
//! are stored in `customer_narratives` ([`write_narratives`]) for the drill-down, and embedded by
//! the encoder as one of the language features of the churn model (`text_features`).
//!
//! **Ticket topics** come from a small keyword lexicon (English and Chinese) over the ticket text,
//! because the tickets table has no topic column: late delivery, damaged item, wrong item, refund.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use tenure_store::{NarrativeRow, Store};

use crate::error::{EngineError, Result};
use crate::value::{f64_col, str_col};

/// Ticket topics the keyword lexicon recognises, in report order.
pub const TICKET_TOPICS: &[TicketTopic] = &[
    TicketTopic {
        name: "late_delivery",
        en: "late delivery",
        zh: "物流延迟",
        pattern: "late|delay|hasn't arrived|has not arrived|not arrived|still waiting|where is my|tracking|还没有到|还没到|没收到|物流|延迟",
    },
    TicketTopic {
        name: "damaged_item",
        en: "a damaged item",
        zh: "商品损坏",
        pattern: "broken|damaged|defective|stopped working|损坏|坏了|坏的|破损",
    },
    TicketTopic {
        name: "wrong_item",
        en: "a wrong item",
        zh: "发错货",
        pattern: "wrong item|wrong size|wrong colou?r|the wrong|发错",
    },
    TicketTopic {
        name: "refund",
        en: "a refund",
        zh: "退款",
        pattern: "refund|money back|退款",
    },
];

/// One ticket topic: a name, its words in both languages and the regular expression (RE2, on the
/// lower-cased text) that tags a ticket with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TicketTopic {
    /// Column-safe name (`late_delivery`).
    pub name: &'static str,
    /// English phrase used in the narrative.
    pub en: &'static str,
    /// Chinese phrase used in the narrative.
    pub zh: &'static str,
    /// RE2 pattern over the lower-cased ticket text.
    pub pattern: &'static str,
}

/// What a narrative says about one customer, all as of one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NarrativeFacts {
    /// The customer.
    pub customer_id: String,
    /// The customer writes Chinese (most of their reviews and tickets hold Chinese characters).
    pub zh: bool,
    /// Sign-up day, or the first order day when earlier or when there is no sign-up date.
    pub joined: Option<NaiveDate>,
    /// Orders (returns not counted).
    pub orders: u64,
    /// Days since the last order.
    pub last_order_days: Option<i64>,
    /// Net spend.
    pub spend_total: f64,
    /// Category with the most spend, and its share of the spend.
    pub top_category: Option<(String, f64)>,
    /// Returns.
    pub returns: u64,
    /// Reviews written.
    pub reviews: u64,
    /// Mean rating of those reviews.
    pub rating_mean: Option<f64>,
    /// Reviews rated 1 or 2.
    pub low_ratings: u64,
    /// Support tickets.
    pub tickets: u64,
    /// Tickets not resolved.
    pub tickets_unresolved: u64,
    /// Tickets per topic of [`TICKET_TOPICS`], same order.
    pub topics: Vec<u64>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Small counts as words ("two"), larger ones as digits.
fn count_en(n: u64) -> String {
    const WORDS: [&str; 10] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    WORDS
        .get(n as usize)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count_en(n), if n == 1 { one } else { many })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn ago_en(days: i64) -> String {
    match days {
        d if d <= 0 => "today".into(),
        1 => "yesterday".into(),
        d => format!("{d} days ago"),
    }
}

/// The English narrative of `f`. Deterministic: the same facts give the same text.
pub fn narrate(f: &NarrativeFacts) -> String {
    let mut parts: Vec<String> = Vec::new();
    let joined = f
        .joined
        .map(|d| format!("{} {}", MONTHS[d.month0() as usize], d.year()));
    let all_returned = f.orders == 0 && f.returns > 0;
    if all_returned {
        let what = format!("{}, all returned", plural(f.returns, "order", "orders"));
        parts.push(match joined {
            Some(j) => format!("Joined {j}; {what}"),
            None => capitalize(&what),
        });
    } else if f.orders == 0 {
        parts.push(match joined {
            Some(j) => format!("Signed up {j}; no orders yet"),
            None => "No orders yet".into(),
        });
    } else {
        let mut s = match joined {
            Some(j) => format!("Joined {j}; "),
            None => String::new(),
        };
        s.push_str(&plural(f.orders, "order", "orders"));
        if let Some(d) = f.last_order_days {
            let _ = write!(
                s,
                ", {} {}",
                if f.orders == 1 { "placed" } else { "the last" },
                ago_en(d)
            );
        }
        if let Some((cat, share)) = &f.top_category {
            let _ = write!(
                s,
                ", {} {cat}",
                if *share >= 0.5 {
                    "mostly"
                } else {
                    "most often"
                }
            );
        }
        parts.push(s);
        parts.push(format!("spent {:.2} in total", f.spend_total));
    }
    if f.returns > 0 && !all_returned {
        parts.push(plural(f.returns, "return", "returns"));
    }
    if f.tickets > 0 {
        let mut s = plural(f.tickets, "support ticket", "support tickets");
        let about: Vec<String> = TICKET_TOPICS
            .iter()
            .zip(&f.topics)
            .filter(|(_, &n)| n > 0)
            .map(|(t, &n)| format!("{} about {}", count_en(n), t.en))
            .collect();
        if !about.is_empty() {
            let _ = write!(s, " ({})", about.join(", "));
        }
        if f.tickets_unresolved > 0 {
            let _ = write!(s, ", {} unresolved", count_en(f.tickets_unresolved));
        }
        parts.push(s);
    }
    if f.reviews > 0 {
        let mut s = plural(f.reviews, "review", "reviews");
        if let Some(r) = f.rating_mean {
            let _ = write!(
                s,
                "{} {r:.1} stars",
                if f.reviews == 1 {
                    ", rated"
                } else {
                    " averaging"
                }
            );
        }
        if f.low_ratings > 0 && f.reviews > 1 {
            let _ = write!(s, " ({} rated 1–2)", count_en(f.low_ratings));
        }
        parts.push(s);
    }
    let mut text = parts.join("; ");
    text.push('.');
    text
}

/// The Chinese narrative of `f` (same facts as [`narrate`]).
pub fn narrate_zh(f: &NarrativeFacts) -> String {
    let mut parts: Vec<String> = Vec::new();
    let joined = f.joined.map(|d| format!("{}年{}月", d.year(), d.month()));
    let all_returned = f.orders == 0 && f.returns > 0;
    if all_returned {
        parts.push(match joined {
            Some(j) => format!("{j}加入；{}笔订单，均已退货", f.returns),
            None => format!("{}笔订单，均已退货", f.returns),
        });
    } else if f.orders == 0 {
        parts.push(match joined {
            Some(j) => format!("{j}注册，尚未下单"),
            None => "尚未下单".into(),
        });
    } else {
        let mut s = match joined {
            Some(j) => format!("{j}加入；"),
            None => String::new(),
        };
        let _ = write!(s, "共{}笔订单", f.orders);
        if let Some(d) = f.last_order_days {
            let when = match d {
                d if d <= 0 => "今天".to_string(),
                1 => "昨天".to_string(),
                d => format!("{d}天前"),
            };
            let _ = write!(
                s,
                "，{}{when}",
                if f.orders == 1 {
                    "下单于"
                } else {
                    "最近一次在"
                }
            );
        }
        if let Some((cat, share)) = &f.top_category {
            let _ = write!(
                s,
                "，{}{cat}",
                if *share >= 0.5 {
                    "主要购买"
                } else {
                    "最常购买"
                }
            );
        }
        parts.push(s);
        parts.push(format!("累计消费{:.2}", f.spend_total));
    }
    if f.returns > 0 && !all_returned {
        parts.push(format!("退货{}次", f.returns));
    }
    if f.tickets > 0 {
        let mut s = format!("{}张客服工单", f.tickets);
        let about: Vec<String> = TICKET_TOPICS
            .iter()
            .zip(&f.topics)
            .filter(|(_, &n)| n > 0)
            .map(|(t, &n)| format!("{n}张关于{}", t.zh))
            .collect();
        if !about.is_empty() {
            let _ = write!(s, "（{}）", about.join("，"));
        }
        if f.tickets_unresolved > 0 {
            let _ = write!(s, "，{}张未解决", f.tickets_unresolved);
        }
        parts.push(s);
    }
    if f.reviews > 0 {
        let mut s = format!("{}条评价", f.reviews);
        if let Some(r) = f.rating_mean {
            let _ = write!(s, "，平均{r:.1}星");
        }
        if f.low_ratings > 0 && f.reviews > 1 {
            let _ = write!(s, "（{}条差评）", f.low_ratings);
        }
        parts.push(s);
    }
    let mut text = parts.join("；");
    text.push('。');
    text
}

/// The SQL behind [`gather_facts`]: the store's as-of features joined with the favourite category,
/// the writing language and ticket topics, every table cut at `as_of`.
pub fn facts_sql(store: &Store, as_of: NaiveDate) -> Result<String> {
    let cutoff = as_of
        .checked_add_days(chrono::Days::new(1))
        .ok_or_else(|| EngineError::Data(format!("as-of date {as_of} is out of range")))?;
    let cut = format!("TIMESTAMP '{cutoff} 00:00:00'");
    let features = store.features_sql(as_of)?;
    let has = |t: &str| -> Result<bool> { Ok(store.count(t)? > 0) };
    let (has_reviews, has_tickets) = (has("reviews")?, has("tickets")?);
    let topic_cols: Vec<String> = TICKET_TOPICS
        .iter()
        .map(|t| {
            format!(
                "count(*) FILTER (WHERE regexp_matches(lower(text), '{}')) AS topic_{}",
                t.pattern.replace('\'', "''"),
                t.name
            )
        })
        .collect();
    let topic_select: Vec<String> = TICKET_TOPICS
        .iter()
        .map(|t| {
            format!(
                "CAST(coalesce(tp.topic_{0}, 0) AS DOUBLE) AS topic_{0}",
                t.name
            )
        })
        .collect();
    let texts = match (has_reviews, has_tickets) {
        (true, true) => format!("SELECT customer_id, text FROM reviews WHERE created_at < {cut} UNION ALL SELECT customer_id, text FROM tickets WHERE created_at < {cut}"),
        (true, false) => format!("SELECT customer_id, text FROM reviews WHERE created_at < {cut}"),
        (false, true) => format!("SELECT customer_id, text FROM tickets WHERE created_at < {cut}"),
        (false, false) => "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS text WHERE false".into(),
    };
    let f_cols = |name: &str, present: bool| {
        if present {
            format!("CAST(f.{name} AS DOUBLE) AS {name}")
        } else {
            format!("CAST(NULL AS DOUBLE) AS {name}")
        }
    };
    Ok(format!(
        "WITH f AS ({features}),
        cat AS (SELECT o.customer_id, p.category, sum(i.quantity * i.unit_price) AS amt
                FROM orders o JOIN order_items i ON i.order_id = o.order_id
                JOIN products p ON p.product_id = i.product_id
                WHERE o.ordered_at < {cut} AND NOT o.is_return
                  AND coalesce(lower(o.status), '') NOT IN ('cancelled', 'canceled', 'void', 'failed')
                  AND p.category IS NOT NULL AND length(trim(p.category)) > 0
                GROUP BY 1, 2),
        ranked AS (SELECT customer_id, category, amt,
                   row_number() OVER (PARTITION BY customer_id ORDER BY amt DESC, category) AS k,
                   sum(amt) OVER (PARTITION BY customer_id) AS total
                   FROM cat),
        tc AS (SELECT customer_id, category AS top_category, amt / nullif(total, 0) AS top_share FROM ranked WHERE k = 1),
        tx AS ({texts}),
        lang AS (SELECT customer_id, avg(CASE WHEN regexp_matches(text, '[一-鿿]') THEN 1.0 ELSE 0.0 END) AS zh_share
                 FROM tx WHERE text IS NOT NULL GROUP BY 1),
        tp AS (SELECT customer_id, {topics} FROM tickets WHERE created_at < {cut} AND text IS NOT NULL GROUP BY 1),
        cu AS (SELECT customer_id, min(created_at) AS created_at FROM customers WHERE created_at < {cut} GROUP BY 1)
        SELECT f.customer_id,
          CAST(CAST(CASE WHEN cu.created_at IS NULL THEN f.first_order_at
                         WHEN f.first_order_at IS NULL THEN cu.created_at
                         ELSE least(cu.created_at, f.first_order_at) END AS DATE) AS VARCHAR) AS joined,
          CAST(f.orders AS DOUBLE) AS orders,
          CAST(f.recency_days AS DOUBLE) AS recency_days,
          CAST(f.spend_total AS DOUBLE) AS spend_total,
          CAST(f.returns AS DOUBLE) AS returns,
          {reviews}, {rating_mean}, {low_ratings}, {tickets}, {unresolved},
          coalesce(tc.top_category, '') AS top_category,
          CAST(coalesce(tc.top_share, 0) AS DOUBLE) AS top_share,
          CAST(coalesce(lang.zh_share, 0) AS DOUBLE) AS zh_share,
          {topic_select}
        FROM f LEFT JOIN tc ON tc.customer_id = f.customer_id
          LEFT JOIN lang ON lang.customer_id = f.customer_id
          LEFT JOIN tp ON tp.customer_id = f.customer_id
          LEFT JOIN cu ON cu.customer_id = f.customer_id
        ORDER BY f.customer_id",
        topics = topic_cols.join(", "),
        reviews = f_cols("reviews", has_reviews),
        rating_mean = f_cols("rating_mean", has_reviews),
        low_ratings = f_cols("low_ratings", has_reviews),
        tickets = f_cols("tickets", has_tickets),
        unresolved = f_cols("tickets_unresolved", has_tickets),
        topic_select = topic_select.join(", "),
    ))
}

fn count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

/// The facts of every customer known on `as_of` (signed up or ordered on or before it), from rows
/// on or before `as_of` only, ordered by customer id.
pub fn gather_facts(store: &Store, as_of: NaiveDate) -> Result<Vec<NarrativeFacts>> {
    let b = store.query_arrow(&facts_sql(store, as_of)?)?;
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let ids = str_col(&b, "customer_id")?;
    let joined = str_col(&b, "joined")?;
    let num = |n: &str| f64_col(&b, n);
    let (orders, recency, spend, returns) = (
        num("orders")?,
        num("recency_days")?,
        num("spend_total")?,
        num("returns")?,
    );
    let (reviews, rating, low, tickets, unresolved) = (
        num("reviews")?,
        num("rating_mean")?,
        num("low_ratings")?,
        num("tickets")?,
        num("tickets_unresolved")?,
    );
    let (top, share, zh) = (
        str_col(&b, "top_category")?,
        num("top_share")?,
        num("zh_share")?,
    );
    let topics: Vec<Vec<f64>> = TICKET_TOPICS
        .iter()
        .map(|t| num(&format!("topic_{}", t.name)))
        .collect::<Result<_>>()?;
    Ok((0..ids.len())
        .map(|i| NarrativeFacts {
            customer_id: ids[i].clone(),
            zh: zh[i] > 0.5,
            joined: tenure_store::parse_date(&joined[i]).ok(),
            orders: count(orders[i]),
            last_order_days: recency[i].is_finite().then(|| recency[i].round() as i64),
            spend_total: if spend[i].is_finite() { spend[i] } else { 0.0 },
            top_category: (!top[i].is_empty()).then(|| (top[i].clone(), share[i])),
            returns: count(returns[i]),
            reviews: count(reviews[i]),
            rating_mean: rating[i].is_finite().then_some(rating[i]),
            low_ratings: count(low[i]),
            tickets: count(tickets[i]),
            tickets_unresolved: count(unresolved[i]),
            topics: topics.iter().map(|c| count(c[i])).collect(),
        })
        .collect())
}

/// The stored form of a customer's narrative: the text in their language and in English.
pub fn narrative_row(f: &NarrativeFacts) -> NarrativeRow {
    let en = narrate(f);
    NarrativeRow {
        customer_id: f.customer_id.clone(),
        language: if f.zh { "zh" } else { "en" }.into(),
        text: if f.zh { narrate_zh(f) } else { en.clone() },
        text_en: en,
    }
}

/// What `tenure narratives` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct NarrativeSummary {
    /// Run id in `customer_narratives`.
    pub run_id: String,
    /// The day described.
    pub as_of: NaiveDate,
    /// Narratives written.
    pub customers: usize,
    /// Of which in Chinese.
    pub chinese: usize,
    /// A few examples (the first customers by id).
    pub examples: Vec<NarrativeRow>,
}

/// Build every customer's narrative as of a day (default: the last order day) and append them to
/// `customer_narratives` as one run stamped `now`.
pub fn write_narratives(
    store: &Store,
    as_of: Option<NaiveDate>,
    now: NaiveDateTime,
) -> Result<NarrativeSummary> {
    let as_of = match as_of {
        Some(d) => d,
        None => crate::value::last_order_date(store)?,
    };
    let rows: Vec<NarrativeRow> = gather_facts(store, as_of)?
        .iter()
        .map(narrative_row)
        .collect();
    if rows.is_empty() {
        return Err(EngineError::Data(format!(
            "no customer is known on or before {as_of}: ingest customers or orders, or pick a later --as-of"
        )));
    }
    let run_id = format!("narratives-{as_of}-{}", now.format("%Y%m%dT%H%M%S%.3f"));
    store.put_narratives(&run_id, as_of, now, &rows)?;
    Ok(NarrativeSummary {
        run_id,
        as_of,
        customers: rows.len(),
        chinese: rows.iter().filter(|r| r.language == "zh").count(),
        examples: rows.into_iter().take(3).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> NarrativeFacts {
        NarrativeFacts {
            customer_id: "C1".into(),
            zh: false,
            joined: NaiveDate::from_ymd_opt(2023, 3, 14),
            orders: 7,
            last_order_days: Some(94),
            spend_total: 412.5,
            top_category: Some(("kitchen".into(), 0.6)),
            returns: 1,
            reviews: 4,
            rating_mean: Some(2.5),
            low_ratings: 2,
            tickets: 3,
            tickets_unresolved: 1,
            topics: vec![2, 0, 0, 1],
        }
    }

    #[test]
    fn the_english_narrative_says_what_the_facts_say() {
        assert_eq!(
            narrate(&facts()),
            "Joined March 2023; seven orders, the last 94 days ago, mostly kitchen; spent 412.50 in total; one return; three support tickets (two about late delivery, one about a refund), one unresolved; four reviews averaging 2.5 stars (two rated 1–2)."
        );
    }

    #[test]
    fn the_chinese_narrative_says_the_same() {
        assert_eq!(
            narrate_zh(&facts()),
            "2023年3月加入；共7笔订单，最近一次在94天前，主要购买kitchen；累计消费412.50；退货1次；3张客服工单（2张关于物流延迟，1张关于退款），1张未解决；4条评价，平均2.5星（2条差评）。"
        );
    }

    #[test]
    fn quiet_customers_get_short_narratives() {
        let f = NarrativeFacts {
            orders: 1,
            last_order_days: Some(1),
            top_category: Some(("books".into(), 0.4)),
            returns: 0,
            reviews: 1,
            rating_mean: Some(5.0),
            low_ratings: 0,
            tickets: 0,
            tickets_unresolved: 0,
            topics: vec![0; 4],
            ..facts()
        };
        assert_eq!(
            narrate(&f),
            "Joined March 2023; one order, placed yesterday, most often books; spent 412.50 in total; one review, rated 5.0 stars."
        );
        let prospect = NarrativeFacts {
            orders: 0,
            last_order_days: None,
            top_category: None,
            spend_total: 0.0,
            ..f.clone()
        };
        assert!(narrate(&prospect).starts_with("Signed up March 2023; no orders yet"));
        assert!(narrate_zh(&prospect).starts_with("2023年3月注册，尚未下单"));
        let row = narrative_row(&NarrativeFacts { zh: true, ..f });
        assert_eq!(row.language, "zh");
        assert!(row.text.contains("共1笔订单"));
        assert!(row.text_en.starts_with("Joined March 2023"));
    }

    /// Regression: a customer whose only order was returned read "no orders yet; one return".
    #[test]
    fn a_customer_whose_orders_were_all_returned_is_not_a_prospect() {
        let f = NarrativeFacts {
            orders: 0,
            last_order_days: None,
            top_category: None,
            spend_total: 0.0,
            returns: 1,
            reviews: 0,
            rating_mean: None,
            low_ratings: 0,
            tickets: 0,
            tickets_unresolved: 0,
            topics: vec![0; 4],
            ..facts()
        };
        assert_eq!(narrate(&f), "Joined March 2023; one order, all returned.");
        assert_eq!(narrate_zh(&f), "2023年3月加入；1笔订单，均已退货。");
        let anonymous = NarrativeFacts { joined: None, ..f };
        assert_eq!(narrate(&anonymous), "One order, all returned.");
    }

    #[test]
    fn counts_read_as_words_up_to_nine() {
        assert_eq!(count_en(0), "no");
        assert_eq!(count_en(9), "nine");
        assert_eq!(count_en(12), "12");
        assert_eq!(ago_en(0), "today");
    }
}
