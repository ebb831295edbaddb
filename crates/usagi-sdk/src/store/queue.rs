//! The offline queue on disk: an append-only file of records, one per line, consumed from a
//! head offset. Each line is a class byte (`D` droppable: event, exception, heartbeat; `K`
//! kept: everything else), the record's wire JSON and `\n`. A generation number names the
//! file, so a rewrite (compaction, reset after draining) is a new file made current by one
//! atomic state write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Class byte of records dropped first when the queue is full.
pub(crate) const DROPPABLE: u8 = b'D';
/// Class byte of records dropped only as a last resort.
pub(crate) const KEPT: u8 = b'K';

/// Counts of queued records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records.
    pub records: u64,
    /// Bytes, line framing included.
    pub bytes: u64,
    /// Records of the droppable class.
    pub droppable: u64,
}

impl Tally {
    pub(crate) fn add_line(&mut self, line: &[u8]) {
        self.records += 1;
        self.bytes += line.len() as u64;
        if line.first() == Some(&DROPPABLE) {
            self.droppable += 1;
        }
    }

    pub(crate) fn absorb(&mut self, other: Tally) {
        self.records += other.records;
        self.bytes += other.bytes;
        self.droppable += other.droppable;
    }

    fn remove(&mut self, other: Tally) {
        self.records = self.records.saturating_sub(other.records);
        self.bytes = self.bytes.saturating_sub(other.bytes);
        self.droppable = self.droppable.saturating_sub(other.droppable);
    }
}

/// The current queue file.
pub(crate) struct QueueFile {
    dir: PathBuf,
    gen: u64,
    file: File,
    len: u64,
    head: u64,
    tally: Tally,
}

/// The lines read for a batch: their JSON (class byte and newline stripped) and where they end.
pub(crate) struct Taken {
    pub records: Vec<Vec<u8>>,
    /// End offset of each record's line.
    pub ends: Vec<u64>,
    /// Class byte of each record.
    pub classes: Vec<u8>,
}

pub(crate) fn path_of(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("queue-{gen:010}.log"))
}

impl QueueFile {
    /// Opens generation `gen` at `head`, cutting a torn last line and counting what is queued.
    pub(crate) fn open(dir: &Path, gen: u64, head: u64) -> io::Result<Self> {
        let path = path_of(dir, gen);
        let file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let mut reader = BufReader::new(file.try_clone()?);
        let mut offset = 0u64;
        let mut complete = 0u64;
        let mut tally = Tally::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            offset += n as u64;
            if line.last() != Some(&b'\n') {
                break; // torn by a crash mid-write: never acknowledged to anyone, cut it
            }
            complete = offset;
            if offset > head {
                tally.add_line(&line);
            }
        }
        if complete < file.metadata()?.len() {
            tracing::warn!(path = %path.display(), kept = complete, "cutting a torn record at the end of the queue");
            file.set_len(complete)?;
        }
        let head = head.min(complete);
        Ok(Self { dir: dir.to_path_buf(), gen, file, len: complete, head, tally })
    }

    pub(crate) fn gen(&self) -> u64 {
        self.gen
    }

    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    pub(crate) fn tally(&self) -> Tally {
        self.tally
    }

    /// Appends complete lines and makes them durable.
    pub(crate) fn append(&mut self, lines: &[u8], tally: Tally) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.file.write_all(lines)?;
        self.file.sync_data()?;
        self.len += lines.len() as u64;
        self.tally.absorb(tally);
        Ok(())
    }

    /// Reads up to `max_records` records from the head whose JSON adds up to at most `max_bytes`
    /// (at least one record when any is queued). The head does not move.
    pub(crate) fn peek(&self, max_records: usize, max_bytes: usize) -> io::Result<Taken> {
        let mut reader = BufReader::new(self.file.try_clone()?);
        reader.seek(SeekFrom::Start(self.head))?;
        let mut taken = Taken { records: Vec::new(), ends: Vec::new(), classes: Vec::new() };
        let mut offset = self.head;
        let mut bytes = 0usize;
        while taken.records.len() < max_records && offset < self.len {
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let json = &line[1..line.len() - 1];
            if !taken.records.is_empty() && bytes + json.len() + 1 > max_bytes {
                break;
            }
            offset += n as u64;
            bytes += json.len() + 1;
            taken.records.push(json.to_vec());
            taken.ends.push(offset);
            taken.classes.push(line[0]);
        }
        Ok(taken)
    }

    /// Moves the head past records returned by [`QueueFile::peek`]; returns the new head.
    pub(crate) fn consume(&mut self, taken: &Taken, count: usize) -> u64 {
        if count == 0 {
            return self.head;
        }
        let mut gone = Tally::default();
        for (json, class) in taken.records[..count].iter().zip(&taken.classes) {
            // Framing: the class byte and the newline.
            gone.records += 1;
            gone.bytes += json.len() as u64 + 2;
            if *class == DROPPABLE {
                gone.droppable += 1;
            }
        }
        self.tally.remove(gone);
        self.head = taken.ends[count - 1];
        self.head
    }

    /// Whether every record has been consumed.
    pub(crate) fn drained(&self) -> bool {
        self.head >= self.len
    }

    /// Writes the records kept after dropping down to the bounds into generation `gen + 1`
    /// (oldest droppable records first, then the oldest of the rest) and returns it; the
    /// caller makes it current with a state write, then calls [`QueueFile::retire`].
    pub(crate) fn compacted(&self, max_records: u64, max_bytes: u64) -> io::Result<(QueueFile, Tally)> {
        let mut over_records = self.tally.records.saturating_sub(max_records);
        let mut over_bytes = self.tally.bytes.saturating_sub(max_bytes);
        let lines = self.lines_from_head()?;
        let mut dropped = Tally::default();
        let mut keep = vec![true; lines.len()];
        for class in [DROPPABLE, KEPT] {
            for (i, line) in lines.iter().enumerate() {
                if over_records == 0 && over_bytes == 0 {
                    break;
                }
                if keep[i] && line.first() == Some(&class) {
                    keep[i] = false;
                    dropped.add_line(line);
                    over_records = over_records.saturating_sub(1);
                    over_bytes = over_bytes.saturating_sub(line.len() as u64);
                }
            }
        }
        let mut out = Vec::new();
        for (line, kept) in lines.iter().zip(&keep) {
            if *kept {
                out.extend_from_slice(line);
            }
        }
        let mut next = self.successor()?;
        let mut tally = Tally::default();
        for (line, kept) in lines.iter().zip(&keep) {
            if *kept {
                tally.add_line(line);
            }
        }
        next.append(&out, tally)?;
        Ok((next, dropped))
    }

    /// An empty file of the next generation.
    pub(crate) fn successor(&self) -> io::Result<QueueFile> {
        let path = path_of(&self.dir, self.gen + 1);
        // A leftover of a crash before its state write holds nothing anyone acknowledged.
        let _ = fs::remove_file(&path);
        QueueFile::open(&self.dir, self.gen + 1, 0)
    }

    /// Deletes this generation's file once another is current.
    pub(crate) fn retire(self) {
        let path = path_of(&self.dir, self.gen);
        drop(self.file);
        if let Err(e) = fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete an old queue file");
        }
    }

    fn lines_from_head(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut reader = BufReader::new(self.file.try_clone()?);
        reader.seek(SeekFrom::Start(self.head))?;
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
                return Ok(lines);
            }
            lines.push(line);
        }
    }
}

/// The class byte of a record, from its wire JSON's `kind`.
pub(crate) fn class_of(kind: &str) -> u8 {
    match kind {
        "event" | "exception" | "heartbeat" => DROPPABLE,
        _ => KEPT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: &str, i: u32) -> Vec<u8> {
        let mut l = vec![class_of(kind)];
        l.extend_from_slice(format!(r#"{{"t":{i},"kind":"{kind}"}}"#).as_bytes());
        l.push(b'\n');
        l
    }

    fn fill(q: &mut QueueFile, kinds: &[&str]) {
        let mut buf = Vec::new();
        let mut tally = Tally::default();
        for (i, k) in kinds.iter().enumerate() {
            let l = line(k, i as u32);
            tally.add_line(&l);
            buf.extend_from_slice(&l);
        }
        q.append(&buf, tally).unwrap();
    }

    #[test]
    fn torn_tail_is_cut_and_counts_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = QueueFile::open(dir.path(), 1, 0).unwrap();
        fill(&mut q, &["event", "sessionStart", "event"]);
        let taken = q.peek(1, usize::MAX).unwrap();
        let head = q.consume(&taken, 1);
        drop(q);
        let mut f = OpenOptions::new().append(true).open(path_of(dir.path(), 1)).unwrap();
        f.write_all(b"D{\"t\":9,\"ki").unwrap();
        let q = QueueFile::open(dir.path(), 1, head).unwrap();
        assert_eq!(q.tally().records, 2);
        assert_eq!(q.tally().droppable, 1);
        let taken = q.peek(10, usize::MAX).unwrap();
        assert_eq!(
            taken.records,
            vec![br#"{"t":1,"kind":"sessionStart"}"#.to_vec(), br#"{"t":2,"kind":"event"}"#.to_vec()]
        );
    }

    #[test]
    fn compaction_drops_oldest_droppable_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = QueueFile::open(dir.path(), 1, 0).unwrap();
        fill(&mut q, &["sessionStart", "event", "properties", "heartbeat", "exception", "event"]);
        let (next, dropped) = q.compacted(3, u64::MAX).unwrap();
        assert_eq!(dropped.records, 3);
        assert_eq!(next.gen(), 2);
        let kept: Vec<String> =
            next.peek(10, usize::MAX).unwrap().records.iter().map(|r| String::from_utf8(r.clone()).unwrap()).collect();
        assert_eq!(
            kept,
            [r#"{"t":0,"kind":"sessionStart"}"#, r#"{"t":2,"kind":"properties"}"#, r#"{"t":5,"kind":"event"}"#]
        );
        // Not enough droppable records: the oldest kept ones go too.
        let (last, _) = next.compacted(1, u64::MAX).unwrap();
        assert_eq!(last.peek(10, usize::MAX).unwrap().records, vec![br#"{"t":2,"kind":"properties"}"#.to_vec()]);
        assert_eq!(last.tally(), Tally { records: 1, bytes: 29, droppable: 0 });
    }
}
