//! Where export files live: `<root>/<productId>/<family>/<kind>/<file name>`.
//!
//! A file is written under `tmp/`, flushed to disk and renamed into place, so a listed file
//! is always complete and a crash leaves at most a stray temporary file (removed on open).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use usagi_types::ProductId;

use crate::names::{Family, FileName};

/// The state of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Today's custom-event or exception file, regenerated at most hourly.
    Open,
    /// A finalized day: never changes again.
    Daily,
    /// A month's custom events or exceptions, from the 1st to the last finalized day.
    Monthly,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Daily => "daily",
            Kind::Monthly => "monthly",
        }
    }
}

/// A file in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its name.
    pub name: FileName,
    /// Its state.
    pub kind: Kind,
    /// Where it is.
    pub path: PathBuf,
    /// Size of the zip.
    pub compressed_bytes: u64,
    /// Sum of the sizes of the files inside.
    pub uncompressed_bytes: u64,
}

/// A file being written; [`ExportStore::publish`] moves it into place.
#[derive(Debug)]
pub struct PendingFile {
    /// Its final name.
    pub name: FileName,
    /// The temporary path to write.
    pub path: PathBuf,
}

/// The export file store of one server.
#[derive(Debug)]
pub struct ExportStore {
    root: PathBuf,
    building: Mutex<HashSet<FileName>>,
}

/// Marks a file as being regenerated while it lives (`isAvailable:false`).
pub struct BuildMark<'a> {
    store: &'a ExportStore,
    name: FileName,
}

impl Drop for BuildMark<'_> {
    fn drop(&mut self) {
        self.store.building.lock().remove(&self.name);
    }
}

impl ExportStore {
    /// Opens (creating) a store and removes temporary files a crash left behind.
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        for product in fs::read_dir(root)? {
            let tmp = product?.path().join("tmp");
            if tmp.is_dir() {
                fs::remove_dir_all(&tmp)?;
            }
        }
        Ok(Self { root: root.to_path_buf(), building: Mutex::new(HashSet::new()) })
    }

    fn dir(&self, product: ProductId, family: Family, kind: Kind) -> PathBuf {
        self.root.join(product.as_str()).join(family.dir()).join(kind.dir())
    }

    /// A temporary file to write `name` into.
    pub fn pending(&self, name: FileName) -> io::Result<PendingFile> {
        let tmp = self.root.join(name.product.as_str()).join("tmp");
        fs::create_dir_all(&tmp)?;
        let path = tmp.join(format!("{name}.{:016x}.part", rand::random::<u64>()));
        Ok(PendingFile { name, path })
    }

    /// Makes a written file durable and visible as `kind`, replacing any file of that name.
    pub fn publish(&self, pending: PendingFile, kind: Kind) -> io::Result<StoredFile> {
        File::open(&pending.path)?.sync_all()?;
        let dir = self.dir(pending.name.product, pending.name.family, kind);
        fs::create_dir_all(&dir)?;
        let path = dir.join(pending.name.to_string());
        fs::rename(&pending.path, &path)?;
        File::open(&dir)?.sync_all()?;
        describe(pending.name, kind, path)
    }

    /// The files of one family and kind, newest first.
    pub fn list(&self, product: ProductId, family: Family, kind: Kind) -> io::Result<Vec<StoredFile>> {
        let dir = self.dir(product, family, kind);
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().and_then(FileName::parse) else { continue };
            if name.product != product || name.family != family {
                continue;
            }
            match describe(name, kind, entry.path()) {
                Ok(f) => out.push(f),
                // Removed meanwhile (retention, a replaced open file): not listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.name.to_string()));
        Ok(out)
    }

    /// The stored file of that name, of any kind.
    pub fn find(&self, name: &FileName) -> io::Result<Option<StoredFile>> {
        for kind in [Kind::Daily, Kind::Monthly, Kind::Open] {
            let path = self.dir(name.product, name.family, kind).join(name.to_string());
            match describe(*name, kind, path) {
                Ok(f) => return Ok(Some(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Deletes a file.
    pub fn remove(&self, file: &StoredFile) -> io::Result<()> {
        match fs::remove_file(&file.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Marks `name` as being regenerated until the mark is dropped.
    pub fn mark_building(&self, name: FileName) -> BuildMark<'_> {
        self.building.lock().insert(name);
        BuildMark { store: self, name }
    }

    /// Whether `name` is being regenerated.
    pub fn is_building(&self, name: &FileName) -> bool {
        self.building.lock().contains(name)
    }

    /// Names being regenerated for one product and family.
    pub fn building(&self, product: ProductId, family: Family) -> Vec<FileName> {
        self.building.lock().iter().filter(|n| n.product == product && n.family == family).copied().collect()
    }
}

fn describe(name: FileName, kind: Kind, path: PathBuf) -> io::Result<StoredFile> {
    let file = File::open(&path)?;
    let compressed_bytes = file.metadata()?.len();
    let archive = zip::ZipArchive::new(file).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let uncompressed_bytes = archive.decompressed_size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    Ok(StoredFile { name, kind, path, compressed_bytes, uncompressed_bytes })
}
