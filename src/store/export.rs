//! `twin history export`: a time range of the store's samples as CSV (for a spreadsheet or a script) or Parquet
//! (for pandas, Polars, DuckDB, Spark), in canonical units. A Parquet file is written beside its target and renamed
//! over it once closed, so a failed or interrupted export never leaves a file a reader would choke on.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use twin_store::{SignalInfo, Store, StoreError};

/// The export's file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportRange<'a> {
    /// From this time, Unix s (the start when none).
    pub from: Option<f64>,
    /// Up to this time, inclusive, Unix s (the end when none).
    pub to: Option<f64>,
    /// Only this asset's signals.
    pub asset: Option<&'a str>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a Parquet export needs --output FILE (it is not written to standard output)")]
    ParquetNeedsFile,
}

/// The columns of both formats, in order.
pub const COLUMNS: [&str; 7] = ["t_utc", "t_unix_s", "signal", "asset", "quantity", "unit", "value"];

/// The Parquet schema: the same columns, `t_utc` as a UTC timestamp in milliseconds, the text columns
/// dictionary-encoded (Parquet's default), Snappy-compressed.
const PARQUET_SCHEMA: &str = "
message sample {
    REQUIRED INT64 t_utc (TIMESTAMP(MILLIS,true));
    REQUIRED DOUBLE t_unix_s;
    REQUIRED BYTE_ARRAY signal (UTF8);
    REQUIRED BYTE_ARRAY asset (UTF8);
    REQUIRED BYTE_ARRAY quantity (UTF8);
    REQUIRED BYTE_ARRAY unit (UTF8);
    REQUIRED DOUBLE value;
}";

/// Rows per Parquet row group (what the export holds in memory at most).
const ROW_GROUP: usize = 65_536;

/// Writes the store's samples in `range` to `output` (standard output when none, CSV only) in `format`.
/// Returns the number of samples.
pub fn export(
    store: &Path,
    range: ExportRange<'_>,
    format: ExportFormat,
    output: Option<&Path>,
) -> Result<u64, ExportError> {
    let s = Store::open_read(store)?;
    match format {
        ExportFormat::Csv => export_csv(&s, range, output),
        ExportFormat::Parquet => export_parquet(&s, range, output.ok_or(ExportError::ParquetNeedsFile)?),
    }
}

/// `t_utc` as RFC 3339 with milliseconds.
fn utc(t_unix_s: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t_unix_s * 1000.0).round() as i64)
        .map_or(String::new(), |d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Calls `row` with each sample of `range`; the first error `row` returns stops the export and is returned.
fn each_sample<E>(
    s: &Store,
    range: ExportRange<'_>,
    mut row: impl FnMut(f64, &SignalInfo, f64) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<StoreError>,
{
    let mut error = None;
    let n =
        s.for_each_sample(range.from.unwrap_or(f64::MIN), range.to.unwrap_or(f64::MAX), range.asset, |t, g, v| {
            if error.is_none()
                && let Err(e) = row(t, g, v)
            {
                error = Some(e);
            }
        })?;
    error.map_or(Ok(n), Err)
}

fn export_csv(s: &Store, range: ExportRange<'_>, output: Option<&Path>) -> Result<u64, ExportError> {
    let (sink, name): (Box<dyn Write>, String) = match output {
        Some(p) => {
            let f = File::create(p).map_err(|e| ExportError::Io { path: p.display().to_string(), source: e })?;
            (Box::new(std::io::BufWriter::new(f)), p.display().to_string())
        }
        None => (Box::new(std::io::BufWriter::new(std::io::stdout().lock())), "standard output".into()),
    };
    let failed = |e: csv::Error| ExportError::Csv { path: name.clone(), source: e };
    let mut w = csv::Writer::from_writer(sink);
    w.write_record(COLUMNS).map_err(failed)?;
    let n = each_sample(s, range, |t, g, v| {
        w.write_record([
            utc(t),
            t.to_string(),
            g.name.clone(),
            g.asset.clone(),
            g.quantity.clone(),
            g.unit.clone(),
            v.to_string(),
        ])
        .map_err(failed)
    })?;
    w.flush().map_err(|e| failed(e.into()))?;
    Ok(n)
}

/// One row group's columns.
#[derive(Default)]
struct Columns {
    t_ms: Vec<i64>,
    t: Vec<f64>,
    signal: Vec<ByteArray>,
    asset: Vec<ByteArray>,
    quantity: Vec<ByteArray>,
    unit: Vec<ByteArray>,
    value: Vec<f64>,
}

impl Columns {
    fn push(&mut self, t: f64, g: &SignalInfo, v: f64) {
        self.t_ms.push((t * 1000.0).round() as i64);
        self.t.push(t);
        self.signal.push(g.name.as_str().into());
        self.asset.push(g.asset.as_str().into());
        self.quantity.push(g.quantity.as_str().into());
        self.unit.push(g.unit.as_str().into());
        self.value.push(v);
    }

    /// Writes the rows as one row group and empties them.
    fn flush<W: Write + Send>(&mut self, w: &mut SerializedFileWriter<W>) -> parquet::errors::Result<()> {
        if self.t.is_empty() {
            return Ok(());
        }
        let mut rg = w.next_row_group()?;
        let mut i = 0;
        while let Some(mut col) = rg.next_column()? {
            match i {
                0 => col.typed::<Int64Type>().write_batch(&self.t_ms, None, None)?,
                1 => col.typed::<DoubleType>().write_batch(&self.t, None, None)?,
                2 => col.typed::<ByteArrayType>().write_batch(&self.signal, None, None)?,
                3 => col.typed::<ByteArrayType>().write_batch(&self.asset, None, None)?,
                4 => col.typed::<ByteArrayType>().write_batch(&self.quantity, None, None)?,
                5 => col.typed::<ByteArrayType>().write_batch(&self.unit, None, None)?,
                _ => col.typed::<DoubleType>().write_batch(&self.value, None, None)?,
            };
            col.close()?;
            i += 1;
        }
        rg.close()?;
        *self = Self::default();
        Ok(())
    }
}

fn export_parquet(s: &Store, range: ExportRange<'_>, output: &Path) -> Result<u64, ExportError> {
    let path = output.display().to_string();
    let io = |e| ExportError::Io { path: path.clone(), source: e };
    let pq = |e| ExportError::Parquet { path: path.clone(), source: e };
    // Written aside and renamed when closed: a Parquet file is unreadable until its footer is written.
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let written = (|| {
        let file = File::create(&partial).map_err(io)?;
        let schema = Arc::new(parse_message_type(PARQUET_SCHEMA).map_err(pq)?);
        let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let mut w = SerializedFileWriter::new(file, schema, props).map_err(pq)?;
        let mut cols = Columns::default();
        let n = each_sample(s, range, |t, g, v| {
            cols.push(t, g, v);
            if cols.t.len() >= ROW_GROUP { cols.flush(&mut w).map_err(pq) } else { Ok(()) }
        })?;
        cols.flush(&mut w).map_err(pq)?;
        w.close().map_err(pq)?;
        std::fs::rename(&partial, output).map_err(io)?;
        Ok(n)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
