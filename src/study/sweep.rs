//! A study's `[sweep]`: a grid of overrides, each point applied to each experiment, making the
//! study's members.
//!
//! ```toml
//! [sweep]
//! "loss.rate" = [0.01, 0.03]     # or, as a table: [sweep.loss] rate = [0.01, 0.03]
//! "model.pairs" = [3, 5]
//! ```
//!
//! expands every experiment `e` into `e_pairs-3_rate-0.01`, `e_pairs-3_rate-0.03`,
//! `e_pairs-5_rate-0.01`, `e_pairs-5_rate-0.03`: nested loops over the keys in alphabetical
//! order (as TOML tables hold them), the first varying slowest, so a member's index does not
//! change when the file is reformatted.

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted key, as for `--set`.
    pub key: String,
    /// The values it takes.
    pub values: Vec<toml::Value>,
}

/// One point of the grid: the overrides (`KEY=VALUE`) and the suffix of the member's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `KEY=VALUE` items, one per axis.
    pub overrides: Vec<String>,
    /// `rate-0.01_pairs-3`: appended to the experiment's name after `_`.
    pub suffix: String,
}

/// The axes of a `[sweep]` table (dotted keys or nested tables); `Err((key, message))` names
/// the key that is wrong.
pub fn axes(table: &toml::Table) -> Result<Vec<Axis>, (String, String)> {
    crate::config::dotted_leaves(table)
        .into_iter()
        .map(|(key, v)| match v {
            toml::Value::Array(values) if !values.is_empty() => Ok(Axis { key, values }),
            toml::Value::Array(_) => Err((key, "lists no value; give at least one".into())),
            other => Err((
                key.clone(),
                format!(
                    "must be a list of values, e.g. \"{key}\" = [{other}, ...]; a single value \
                     for every member goes into [set]"
                ),
            )),
        })
        .collect()
}

/// Every point of the grid, first axis slowest; one empty point without axes.
pub fn points(axes: &[Axis]) -> Vec<Point> {
    let labels = labels(axes);
    let mut points = vec![Point {
        overrides: Vec::new(),
        suffix: String::new(),
    }];
    for (axis, label) in axes.iter().zip(&labels) {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut overrides = p.overrides.clone();
                    overrides.push(format!("{}={v}", axis.key));
                    let part = format!("{label}-{}", name_part(v));
                    let suffix = if p.suffix.is_empty() {
                        part
                    } else {
                        format!("{}_{part}", p.suffix)
                    };
                    Point { overrides, suffix }
                })
            })
            .collect();
    }
    points
}

/// Each axis's label in member names: the key's last part, or the whole key where two axes
/// share a last part.
fn labels(axes: &[Axis]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    axes.iter()
        .map(|a| {
            let l = last(&a.key);
            if axes.iter().filter(|b| last(&b.key) == l).count() > 1 {
                a.key.clone()
            } else {
                l
            }
        })
        .collect()
}

/// A value as part of a run name: letters, digits, '.', '-' (`[6, 8]` becomes `6-8`,
/// `"cosine"` `cosine`).
fn name_part(v: &toml::Value) -> String {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A sign must survive: -1 and 1 would name two members alike.
    let (mut out, text) = match text.strip_prefix('-') {
        Some(rest) => (String::from("m"), rest),
        None => (String::new(), text.as_str()),
    };
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '+') {
            c
        } else {
            '-'
        };
        let c = if c == '+' { 'p' } else { c };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let out = out.trim_end_matches('-').trim_start_matches('.');
    if out.is_empty() {
        "x".into()
    } else {
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_grid_expands_first_axis_slowest_with_readable_names() {
        let a = axes(&table(
            "\"loss.rate\" = [0.01, 0.03]\n[model]\npairs = [3, 5]\nchannels = [[6, 8]]\n",
        ))
        .unwrap();
        let p = points(&a);
        let names: Vec<&str> = p.iter().map(|p| p.suffix.as_str()).collect();
        assert_eq!(
            names,
            [
                "rate-0.01_channels-6-8_pairs-3",
                "rate-0.01_channels-6-8_pairs-5",
                "rate-0.03_channels-6-8_pairs-3",
                "rate-0.03_channels-6-8_pairs-5"
            ]
        );
        assert_eq!(
            p[1].overrides,
            ["loss.rate=0.01", "model.channels=[6, 8]", "model.pairs=5"]
        );
        assert_eq!(points(&[]).len(), 1);
    }

    #[test]
    fn axes_sharing_a_last_part_are_named_in_full_and_odd_values_are_cleaned() {
        let a = axes(&table(
            "\"train.seed\" = [1]\n\"data.seed\" = [2]\n\"train.schedule\" = [\"cosine\"]\n\"loss.mse\" = [-1e+3]\n",
        ))
        .unwrap();
        assert_eq!(
            points(&a)[0].suffix,
            "data.seed-2_mse-m1000.0_schedule-cosine_train.seed-1"
        );
        for name in points(&a).iter().map(|p| format!("e_{}", p.suffix)) {
            crate::config::check_name(&name).unwrap();
        }
    }

    #[test]
    fn a_sweep_key_without_a_list_is_refused_by_name() {
        assert_eq!(
            axes(&table("\"loss.rate\" = []\n")).unwrap_err().0,
            "loss.rate"
        );
        let (key, message) = axes(&table("[train]\nlr = 0.001\n")).unwrap_err();
        assert_eq!(key, "train.lr");
        assert!(message.contains("must be a list"), "{message}");
    }
}
