//! The ingest log: append-only segment files of CRC-checked entries.
//!
//! Entry framing: `len: u32 LE | crc32: u32 LE | lsn: u64 LE | payload[len]`, with the
//! CRC over the LSN bytes and the payload. LSNs are dense and start at 1. A torn tail
//! (a crash in the middle of a write that was therefore never acknowledged) is cut
//! off when the log is opened.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::IngestError;

const HEADER: usize = 16;
/// Largest payload accepted in one entry; protects readers from a corrupt length.
const MAX_ENTRY: usize = 64 * 1024 * 1024;

/// A segment file and the first LSN it holds.
#[derive(Debug, Clone)]
struct Segment {
    first_lsn: u64,
    path: PathBuf,
}

fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("segment-{first_lsn:020}.log"))
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>, IngestError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(num) = name.strip_prefix("segment-").and_then(|n| n.strip_suffix(".log")) {
            if let Ok(first_lsn) = num.parse::<u64>() {
                out.push(Segment { first_lsn, path });
            }
        }
    }
    out.sort_by_key(|s| s.first_lsn);
    Ok(out)
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads one framed entry; `Ok(None)` at a clean end or a torn/corrupt entry.
fn read_entry(r: &mut impl Read) -> io::Result<Option<(u64, Vec<u8>)>> {
    let mut header = [0u8; HEADER];
    let mut filled = 0;
    while filled < HEADER {
        let n = r.read(&mut header[filled..])?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut lsn_bytes = [0u8; 8];
    lsn_bytes.copy_from_slice(&header[8..16]);
    if len > MAX_ENTRY {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    if r.read_exact(&mut payload).is_err() {
        return Ok(None);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn_bytes);
    hasher.update(&payload);
    if hasher.finalize() != crc {
        return Ok(None);
    }
    Ok(Some((u64::from_le_bytes(lsn_bytes), payload)))
}

fn encode(lsn: u64, payload: &[u8], out: &mut Vec<u8>) {
    let lsn_bytes = lsn.to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn_bytes);
    hasher.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&lsn_bytes);
    out.extend_from_slice(payload);
}

/// The writing end of the log; owned by the single writer thread.
pub struct LogWriter {
    dir: PathBuf,
    file: File,
    size: u64,
    next_lsn: u64,
    segment_bytes: u64,
    failed: bool,
}

/// What opening the log found.
pub struct Recovered {
    /// The writer, positioned after the last valid entry.
    pub writer: LogWriter,
    /// The last valid LSN (0 when the log is empty).
    pub last_lsn: u64,
}

impl LogWriter {
    /// Opens the log directory, cutting off a torn tail, and positions the writer at its end.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Recovered, IngestError> {
        fs::create_dir_all(dir)?;
        let segments = list_segments(dir)?;
        let mut last_lsn = 0;
        let mut expected: Option<u64> = None;
        for (i, seg) in segments.iter().enumerate() {
            let is_last = i + 1 == segments.len();
            let file = File::open(&seg.path)?;
            let file_len = file.metadata()?.len();
            let mut reader = BufReader::new(file);
            let mut offset = 0u64;
            if let Some(e) = expected {
                if seg.first_lsn != e {
                    return Err(IngestError::Corrupt(format!("{} should start at LSN {e}", seg.path.display())));
                }
            }
            let mut next = seg.first_lsn;
            while let Some((lsn, payload)) = read_entry(&mut reader)? {
                if lsn != next {
                    break;
                }
                offset += (HEADER + payload.len()) as u64;
                next += 1;
            }
            if offset < file_len {
                if !is_last {
                    return Err(IngestError::Corrupt(format!(
                        "{} has an invalid entry at byte {offset} before the log's tail",
                        seg.path.display()
                    )));
                }
                tracing::warn!(segment = %seg.path.display(), offset, file_len, "cutting a torn tail off the ingest log");
                let f = OpenOptions::new().write(true).open(&seg.path)?;
                f.set_len(offset)?;
                f.sync_all()?;
            }
            if next > seg.first_lsn {
                last_lsn = next - 1;
            }
            expected = Some(next);
        }
        let (path, size) = match segments.last() {
            Some(seg) => (seg.path.clone(), fs::metadata(&seg.path)?.len()),
            None => {
                let path = segment_path(dir, 1);
                File::create(&path)?.sync_all()?;
                fsync_dir(dir)?;
                (path, 0)
            }
        };
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Recovered {
            writer: LogWriter {
                dir: dir.to_path_buf(),
                file,
                size,
                next_lsn: last_lsn + 1,
                segment_bytes,
                failed: false,
            },
            last_lsn,
        })
    }

    /// Appends entries and makes them durable; returns the LSN of the first one.
    ///
    /// One `fdatasync` covers the whole group, which is what makes acknowledging
    /// every sync only after it is durable affordable.
    pub fn append_group(&mut self, payloads: &[&[u8]]) -> Result<u64, IngestError> {
        if self.failed {
            return Err(IngestError::Io(io::Error::other("ingest log writer failed earlier; restart needed")));
        }
        if self.size >= self.segment_bytes {
            self.rotate()?;
        }
        let first = self.next_lsn;
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        for (i, p) in payloads.iter().enumerate() {
            encode(first + i as u64, p, &mut buf);
        }
        let result = self.file.write_all(&buf).and_then(|_| self.file.sync_data());
        if let Err(e) = result {
            // Undo the partial group so later appends do not follow garbage.
            if self.file.set_len(self.size).and_then(|_| self.file.sync_data()).is_err() {
                self.failed = true;
            }
            return Err(e.into());
        }
        self.size += buf.len() as u64;
        self.next_lsn += payloads.len() as u64;
        Ok(first)
    }

    fn rotate(&mut self) -> Result<(), IngestError> {
        let path = segment_path(&self.dir, self.next_lsn);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.sync_all()?;
        fsync_dir(&self.dir)?;
        self.file = file;
        self.size = 0;
        Ok(())
    }
}

/// A sequential reader of durable entries, used by the loader.
pub struct LogReader {
    dir: PathBuf,
    /// Where the next read continues: segment start LSN, byte offset, next LSN.
    cursor: Option<(u64, u64, u64)>,
}

impl LogReader {
    /// A reader over the log directory.
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), cursor: None }
    }

    /// Reads entries with LSN in `[from, upto]`, stopping after `max_bytes` of payload.
    pub fn read(&mut self, from: u64, upto: u64, max_bytes: usize) -> Result<Vec<(u64, Vec<u8>)>, IngestError> {
        let mut out = Vec::new();
        if from > upto {
            return Ok(out);
        }
        let segments = list_segments(&self.dir)?;
        // Entries below the oldest segment were loaded and deleted; start at the oldest.
        let mut seg_index = segments.iter().rposition(|s| s.first_lsn <= from).unwrap_or(0);
        let mut bytes = 0usize;
        let mut next = from;
        'segments: while seg_index < segments.len() {
            let seg = &segments[seg_index];
            let mut file = File::open(&seg.path)?;
            let (mut offset, mut lsn) = match self.cursor {
                Some((first, off, lsn)) if first == seg.first_lsn && lsn <= next => (off, lsn),
                _ => (0, seg.first_lsn),
            };
            file.seek(SeekFrom::Start(offset))?;
            let mut reader = BufReader::new(file);
            loop {
                if next > upto || bytes >= max_bytes {
                    self.cursor = Some((seg.first_lsn, offset, lsn));
                    break 'segments;
                }
                match read_entry(&mut reader)? {
                    Some((entry_lsn, payload)) if entry_lsn == lsn => {
                        offset += (HEADER + payload.len()) as u64;
                        lsn += 1;
                        if entry_lsn >= next {
                            bytes += payload.len();
                            out.push((entry_lsn, payload));
                            next = entry_lsn + 1;
                        }
                    }
                    _ => {
                        self.cursor = Some((seg.first_lsn, offset, lsn));
                        seg_index += 1;
                        continue 'segments;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Deletes segments whose every entry is at or below `lsn` (never the newest segment).
    pub fn delete_through(&mut self, lsn: u64) -> Result<usize, IngestError> {
        let segments = list_segments(&self.dir)?;
        let mut deleted = 0;
        for pair in segments.windows(2) {
            if pair[1].first_lsn <= lsn + 1 {
                fs::remove_file(&pair[0].path)?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            fsync_dir(&self.dir)?;
            self.cursor = None;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(dir.path(), 100).unwrap().writer;
        for i in 0..20u32 {
            let p = format!("entry-{i}");
            w.append_group(&[p.as_bytes(), b"x"]).unwrap();
        }
        let mut r = LogReader::new(dir.path());
        let all = r.read(1, 40, usize::MAX).unwrap();
        assert_eq!(all.len(), 40);
        assert_eq!(all[0], (1, b"entry-0".to_vec()));
        assert_eq!(all[39], (40, b"x".to_vec()));
        assert!(list_segments(dir.path()).unwrap().len() > 1);
        // Sequential reads continue from the cursor.
        let mut r = LogReader::new(dir.path());
        let a = r.read(1, 10, usize::MAX).unwrap();
        let b = r.read(11, 40, usize::MAX).unwrap();
        assert_eq!(a.len() + b.len(), 40);
        assert_eq!(b[0].0, 11);
        // Deleting through 30 keeps 31.. readable.
        r.delete_through(30).unwrap();
        let rest = LogReader::new(dir.path()).read(31, 40, usize::MAX).unwrap();
        assert_eq!(rest.len(), 10);
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = LogWriter::open(dir.path(), 1 << 20).unwrap().writer;
            w.append_group(&[b"one", b"two"]).unwrap();
        }
        let seg = list_segments(dir.path()).unwrap().pop().unwrap();
        let good_len = fs::metadata(&seg.path).unwrap().len();
        // A crash mid-write leaves half an entry.
        let mut f = OpenOptions::new().append(true).open(&seg.path).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let rec = LogWriter::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.last_lsn, 2);
        assert_eq!(fs::metadata(&seg.path).unwrap().len(), good_len);
        let mut w = rec.writer;
        assert_eq!(w.append_group(&[b"three"]).unwrap(), 3);
        let all = LogReader::new(dir.path()).read(1, 3, usize::MAX).unwrap();
        assert_eq!(
            all.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
    }

    #[test]
    fn corrupt_crc_in_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = LogWriter::open(dir.path(), 1 << 20).unwrap().writer;
            w.append_group(&[b"one"]).unwrap();
            w.append_group(&[b"two"]).unwrap();
        }
        let seg = list_segments(dir.path()).unwrap().pop().unwrap();
        let mut bytes = fs::read(&seg.path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        fs::write(&seg.path, bytes).unwrap();
        assert_eq!(LogWriter::open(dir.path(), 1 << 20).unwrap().last_lsn, 1);
    }
}
