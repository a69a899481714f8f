//! Every campaign a tablet carries. A postal worker may carry two surveys through the same
//! villages (SIPAS for the ministry, the province's own): each campaign lives in a data
//! directory of its own — its database, its assignment, its households, its chain — as a
//! [`Client`], so nothing of one can be sent, keyed or sealed as the other's. All of them share
//! the tablet's one key (`device.key` in the app's data directory): a code of a campaign the
//! tablet already carries is then refused by the intake (that key is enrolled there) instead
//! of quietly replacing the tablet's enrollment and stranding its unsent work.
//!
//! Layout of the app's data directory:
//! * `device.key` — the tablet's key;
//! * `device.db` — the campaign of a tablet set up before it carried several (kept where it is);
//! * `campaigns/<slot>/device.db` — one per campaign enrolled since. A slot's name means
//!   nothing; the campaign is what its database says it enrolled in.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};
use sync_protocol::keys::DeviceKey;

use crate::{create_private_dir, load_or_create_key, Client, ClientError};

pub struct Campaigns {
    dir: PathBuf,
    key: DeviceKey,
    /// Campaign id → its client, in the order they were enrolled.
    clients: BTreeMap<String, Client>,
    order: Vec<String>,
}

/// Every campaign data directory: the tablet's first (older) one, then the slots.
fn slots(dir: &Path) -> Result<Vec<PathBuf>, ClientError> {
    let mut found = Vec::new();
    if dir.join("device.db").exists() {
        found.push(dir.to_owned());
    }
    let campaigns = dir.join("campaigns");
    if campaigns.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&campaigns)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("device.db").exists())
            .collect();
        // Slot names are time-ordered UUIDs: their order is the order of enrollment.
        entries.sort();
        found.extend(entries);
    }
    Ok(found)
}

impl Campaigns {
    /// Opens every campaign in the app's data directory (none on a new tablet).
    pub fn open(dir: &Path) -> Result<Campaigns, ClientError> {
        create_private_dir(dir)?;
        let key = load_or_create_key(&dir.join("device.key"))?;
        let mut campaigns = Campaigns {
            dir: dir.to_owned(),
            key,
            clients: BTreeMap::new(),
            order: Vec::new(),
        };
        for slot in slots(dir)? {
            let client = Client::open_with_key(&slot, campaigns.key.clone())?;
            // A slot whose enrollment never completed holds nothing to keep.
            if let Ok(e) = client.enrollment() {
                if campaigns.clients.contains_key(&e.campaign) {
                    continue; // never made by `enroll`, which lets such a one go
                }
                campaigns.order.push(e.campaign.clone());
                campaigns.clients.insert(e.campaign, client);
            }
        }
        Ok(campaigns)
    }

    /// The data directories of every enrolled campaign, for a sync thread with its own
    /// connections.
    pub fn dirs(dir: &Path) -> Result<Vec<PathBuf>, ClientError> {
        let mut enrolled = Vec::new();
        for slot in slots(dir)? {
            let client = Client::open_with_key(&slot, Self::key_of(dir)?)?;
            if client.enrollment().is_ok() {
                enrolled.push(slot);
            }
        }
        Ok(enrolled)
    }

    /// The tablet's key.
    pub fn key_of(dir: &Path) -> Result<DeviceKey, ClientError> {
        load_or_create_key(&dir.join("device.key"))
    }

    /// Enrolls the tablet in one more campaign with a one-time code; returns its id. Where the
    /// enrollment did not take (a wrong code, no network), nothing is left behind.
    pub fn enroll(
        &mut self,
        intake_url: &str,
        code: &str,
        label: &str,
    ) -> Result<String, ClientError> {
        let slot = self
            .dir
            .join("campaigns")
            .join(uuid::Uuid::now_v7().to_string());
        let mut client = Client::open_with_key(&slot, self.key.clone())?;
        let enrolled = client.enroll(intake_url, code, label);
        if client.enrollment().is_err() {
            drop(client);
            let _ = std::fs::remove_dir_all(&slot);
            return Err(match enrolled.err() {
                // The tablet's key is enrolled in the code's campaign: it is one of these.
                Some(ClientError::Refused { code, .. })
                    if code == "key_already_enrolled" && !self.clients.is_empty() =>
                {
                    ClientError::CampaignOnTablet(self.names().join("» hoặc «"))
                }
                other => other.unwrap_or(ClientError::NotEnrolled),
            });
        }
        // Enrolled, even if the assignment did not arrive yet: it comes with the next sync.
        let campaign = client.enrollment()?.campaign;
        if self.clients.contains_key(&campaign) {
            // Another centre naming a campaign as one this tablet carries (the same centre
            // refuses the tablet's key): two cannot be told apart under one id, so the new
            // one, which holds no work yet, is let go.
            drop(client);
            let _ = std::fs::remove_dir_all(&slot);
            let name = self.clients[&campaign]
                .assignment()
                .map(|a| a.campaign.name)
                .unwrap_or(campaign);
            return Err(ClientError::CampaignOnTablet(name));
        }
        self.order.push(campaign.clone());
        self.clients.insert(campaign.clone(), client);
        enrolled.map(|_| campaign)
    }

    /// Campaign names (ids until their assignment arrives), in the order they were enrolled.
    pub fn names(&self) -> Vec<String> {
        self.order
            .iter()
            .map(|id| {
                self.clients[id]
                    .assignment()
                    .map(|a| a.campaign.name)
                    .unwrap_or_else(|_| id.clone())
            })
            .collect()
    }

    /// Campaign ids, in the order they were enrolled.
    pub fn ids(&self) -> &[String] {
        &self.order
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn get(&self, campaign: &str) -> Result<&Client, ClientError> {
        self.clients
            .get(campaign)
            .ok_or_else(|| ClientError::UnknownCampaign(campaign.to_string()))
    }

    pub fn get_mut(&mut self, campaign: &str) -> Result<&mut Client, ClientError> {
        self.clients
            .get_mut(campaign)
            .ok_or_else(|| ClientError::UnknownCampaign(campaign.to_string()))
    }

    /// Every campaign's client, in the order they were enrolled.
    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.order.iter().filter_map(|c| self.clients.get(c))
    }

    pub fn clients_mut(&mut self) -> impl Iterator<Item = &mut Client> {
        self.clients.values_mut()
    }
}
