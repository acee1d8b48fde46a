//! A read-only reader of one table of an SQLite database file held in memory
//! (<https://www.sqlite.org/fileformat2.html>): the schema table on page 1 names the table's
//! root page, and its table b-tree is walked (interior pages to leaves, payloads that spill
//! onto overflow pages followed) to yield each row's values. Enough for rpm's `rpmdb.sqlite`
//! without writing the database to disk to open it; every offset is checked, so a damaged or
//! hostile file is an error, never a panic or a loop.

use std::collections::HashSet;

/// One column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SqliteError {
    #[error("not an SQLite 3 database")]
    NotSqlite,
    #[error("damaged SQLite database: {0}")]
    Damaged(&'static str),
    #[error("the database has no table {0}")]
    NoTable(String),
}

use SqliteError::Damaged;

pub struct Database<'a> {
    bytes: &'a [u8],
    page_size: usize,
    /// The usable bytes of a page (its size less the reserved space at its end).
    usable: usize,
}

/// An SQLite varint: one to nine bytes, big-endian, seven bits each (all eight in the ninth).
fn varint(bytes: &[u8]) -> Result<(u64, usize), SqliteError> {
    let mut value = 0u64;
    for i in 0..9 {
        let b = *bytes.get(i).ok_or(Damaged("truncated varint"))?;
        if i == 8 {
            return Ok(((value << 8) | b as u64, 9));
        }
        value = (value << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    unreachable!("the ninth byte returns")
}

fn be(bytes: &[u8], at: usize, n: usize) -> Result<u64, SqliteError> {
    let slice = bytes
        .get(at..at + n)
        .ok_or(Damaged("offset past the page"))?;
    Ok(slice.iter().fold(0u64, |v, b| (v << 8) | *b as u64))
}

impl<'a> Database<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, SqliteError> {
        if !bytes.starts_with(b"SQLite format 3\0") || bytes.len() < 100 {
            return Err(SqliteError::NotSqlite);
        }
        let page_size = match be(bytes, 16, 2)? {
            1 => 65536,
            n if n >= 512 && n.is_power_of_two() => n as usize,
            _ => return Err(Damaged("page size")),
        };
        let reserved = bytes[20] as usize;
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or(Damaged("reserved space"))?;
        Ok(Self {
            bytes,
            page_size,
            usable,
        })
    }

    /// Page `n` (1-based) as a slice of `usable` bytes.
    fn page(&self, n: u64) -> Result<&'a [u8], SqliteError> {
        let start = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| i.checked_mul(self.page_size))
            .ok_or(Damaged("page number"))?;
        let end = start
            .checked_add(self.usable)
            .ok_or(Damaged("page number"))?;
        self.bytes
            .get(start..end)
            .ok_or(Damaged("page past the end of the file"))
    }

    /// Each row of the table b-tree rooted at `root`, as the payload bytes of its record, in
    /// key order, handed to `row` one at a time. A valid file holds each page once and each
    /// byte in at most one payload: a walk that reaches a page twice (a b-tree page or an
    /// overflow page, shared or looping) or yields more payload than the file holds is
    /// damaged, so a small hostile file cannot make the walk long or large.
    fn rows(
        &self,
        root: u64,
        row: &mut dyn FnMut(&[u8]) -> Result<(), SqliteError>,
    ) -> Result<(), SqliteError> {
        let mut stack = vec![root];
        let mut seen = HashSet::new();
        let mut yielded = 0usize;
        let mut buffer = Vec::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                return Err(Damaged("a page is reached twice"));
            }
            let page = self.page(n)?;
            // Page 1 starts with the 100-byte file header.
            let header = if n == 1 { 100 } else { 0 };
            let kind = *page.get(header).ok_or(Damaged("page header"))?;
            let cells = be(page, header + 3, 2)? as usize;
            let pointers = header + if kind == 0x05 { 12 } else { 8 };
            let cell_at = |i: usize| -> Result<usize, SqliteError> {
                let at = be(page, pointers + 2 * i, 2)? as usize;
                // A cell lies after the header and the pointer array.
                if at < pointers + 2 * cells {
                    return Err(Damaged("cell offset"));
                }
                Ok(at)
            };
            match kind {
                // An interior table page: each cell a child page and a key; one more child on
                // the right. Children are pushed right first, so rows come out in key order.
                0x05 => {
                    stack.push(be(page, header + 8, 4)?);
                    for i in (0..cells).rev() {
                        stack.push(be(page, cell_at(i)?, 4)?);
                    }
                }
                0x0d => {
                    for i in 0..cells {
                        let at = cell_at(i)?;
                        let cell = page.get(at..).ok_or(Damaged("cell offset"))?;
                        let (size, a) = varint(cell)?;
                        let (_rowid, b) = varint(&cell[a..])?;
                        let size = usize::try_from(size).map_err(|_| Damaged("payload size"))?;
                        yielded = yielded.saturating_add(size);
                        if yielded > self.bytes.len() {
                            return Err(Damaged("more payload than the file holds"));
                        }
                        self.payload(&cell[a + b..], size, &mut seen, &mut buffer)?;
                        row(&buffer)?;
                    }
                }
                _ => return Err(Damaged("not a table b-tree page")),
            }
        }
        Ok(())
    }

    /// A cell's payload of `size` bytes into `out`: what the page holds, then its overflow
    /// pages (each counted in `seen`).
    fn payload(
        &self,
        local: &[u8],
        size: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), SqliteError> {
        out.clear();
        let u = self.usable;
        let max_local = u - 35;
        if size <= max_local {
            out.extend_from_slice(local.get(..size).ok_or(Damaged("payload past the page"))?);
            return Ok(());
        }
        let min_local = (u - 12) * 32 / 255 - 23;
        let k = min_local + (size - min_local) % (u - 4);
        let here = if k <= max_local { k } else { min_local };
        out.extend_from_slice(local.get(..here).ok_or(Damaged("payload past the page"))?);
        let mut next = be(local, here, 4)?;
        while out.len() < size {
            if next == 0 || !seen.insert(next) {
                return Err(Damaged("overflow chain"));
            }
            let page = self.page(next)?;
            next = be(page, 0, 4)?;
            let take = (size - out.len()).min(u - 4);
            out.extend_from_slice(&page[4..4 + take]);
        }
        Ok(())
    }

    /// The root page of table `name`, from the schema table on page 1.
    fn root_of(&self, name: &str) -> Result<u64, SqliteError> {
        let mut root = None;
        self.rows(1, &mut |payload| {
            let values = record(payload)?;
            let text = |i: usize| match values.get(i) {
                Some(Value::Text(t)) => t.as_str(),
                _ => "",
            };
            if root.is_none() && text(0) == "table" && text(1).eq_ignore_ascii_case(name) {
                root = Some(match values.get(3) {
                    Some(Value::Integer(r)) if *r > 0 => Ok(*r as u64),
                    _ => Err(Damaged("schema root page")),
                });
            }
            Ok(())
        })?;
        root.unwrap_or_else(|| Err(SqliteError::NoTable(name.to_string())))
    }

    /// Each row of table `name`, its columns in order, handed to `row` one at a time (an
    /// `INTEGER PRIMARY KEY` column reads as NULL: SQLite keeps it as the row id).
    pub fn each_row(
        &self,
        name: &str,
        row: &mut dyn FnMut(Vec<Value>) -> Result<(), SqliteError>,
    ) -> Result<(), SqliteError> {
        let root = self.root_of(name)?;
        self.rows(root, &mut |payload| row(record(payload)?))
    }
}

/// The values of one record: a header of serial types, then the values they describe.
fn record(bytes: &[u8]) -> Result<Vec<Value>, SqliteError> {
    let (header_size, mut at) = varint(bytes)?;
    let header_size = header_size as usize;
    if header_size > bytes.len() {
        return Err(Damaged("record header"));
    }
    let mut body = header_size;
    let mut out = Vec::new();
    while at < header_size {
        let (kind, n) = varint(&bytes[at..header_size])?;
        at += n;
        let int = |len: usize, body: usize| -> Result<i64, SqliteError> {
            let raw = be(bytes, body, len)?;
            // Sign-extend from `len` bytes.
            let shift = 64 - 8 * len as u32;
            Ok(((raw << shift) as i64) >> shift)
        };
        let (value, len) = match kind {
            0 => (Value::Null, 0),
            1..=4 => (Value::Integer(int(kind as usize, body)?), kind as usize),
            5 => (Value::Integer(int(6, body)?), 6),
            6 => (Value::Integer(int(8, body)?), 8),
            7 => (Value::Real(f64::from_bits(be(bytes, body, 8)?)), 8),
            8 => (Value::Integer(0), 0),
            9 => (Value::Integer(1), 0),
            10 | 11 => return Err(Damaged("reserved serial type")),
            n => {
                let len = ((n - 12) / 2) as usize;
                let data = bytes
                    .get(body..body.checked_add(len).ok_or(Damaged("value length"))?)
                    .ok_or(Damaged("value past the record"))?;
                if n % 2 == 0 {
                    (Value::Blob(data.to_vec()), len)
                } else {
                    (Value::Text(String::from_utf8_lossy(data).into_owned()), len)
                }
            }
        };
        body += len;
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_one_to_nine_bytes() {
        assert_eq!(varint(&[0x05]).unwrap(), (5, 1));
        assert_eq!(varint(&[0x81, 0x00]).unwrap(), (128, 2));
        assert_eq!(varint(&[0xff; 9]).unwrap(), (u64::MAX, 9));
        assert!(varint(&[0x81]).is_err());
    }

    #[test]
    fn damaged_files_are_errors() {
        assert_eq!(Database::new(b"nope").err(), Some(SqliteError::NotSqlite));
        let mut header = b"SQLite format 3\0".to_vec();
        header.resize(100, 0);
        header[16] = 0x03; // 768: not a power of two
        assert!(Database::new(&header).is_err());
        header[16] = 0x10; // 4096, but no page 1 body
        let db = Database::new(&header).unwrap();
        assert!(db.each_row("Packages", &mut |_| Ok(())).is_err());
    }
}
