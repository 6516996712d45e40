//! The texts, flag lists and grants one input's builder has made, each held once: thousands
//! of connectors and hundreds of thousands of permission entries repeat a few dozen of them.

use super::ace::Grant;
use super::principal::Principal;
use super::Flags;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The texts and grants one input's builder has made, each held once.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    strings: HashSet<Arc<str>>,
    grants: HashSet<Arc<Grant>>,
    flags: HashSet<Flags>,
    /// Principals classified so far, by the name exported.
    principals: HashMap<String, Principal>,
}

impl Interner {
    /// Texts longer than this rarely repeat (a connector's range list): kept as they are.
    const LONGEST: usize = 256;

    pub fn text(&mut self, s: &str) -> Arc<str> {
        if s.len() > Self::LONGEST {
            return Arc::from(s);
        }
        if let Some(t) = self.strings.get(s) {
            return t.clone();
        }
        let t: Arc<str> = Arc::from(s);
        self.strings.insert(t.clone());
        t
    }

    /// [`Principal::classify`], once per name.
    pub fn principal(&mut self, user: &str) -> Principal {
        if let Some(p) = self.principals.get(user) {
            return p.clone();
        }
        let p = Principal::classify(user);
        if self.principals.len() < 65_536 {
            self.principals.insert(user.to_string(), p.clone());
        }
        p
    }

    pub fn flags(&mut self, f: Vec<String>) -> Flags {
        if let Some(x) = self.flags.get(f.as_slice()) {
            return x.clone();
        }
        let x: Flags = f.into();
        self.flags.insert(x.clone());
        x
    }

    /// The grant equal to `g` held here, or `g`, held from now on.
    pub fn share(&mut self, g: &Arc<Grant>) -> Arc<Grant> {
        if let Some(x) = self.grants.get(&**g) {
            return x.clone();
        }
        self.grants.insert(g.clone());
        g.clone()
    }

    pub fn grant(&mut self, g: Grant) -> Arc<Grant> {
        if let Some(x) = self.grants.get(&g) {
            return x.clone();
        }
        let x = Arc::new(g);
        self.grants.insert(x.clone());
        x
    }
}
