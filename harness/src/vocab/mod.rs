//! The harness's vocabulary: the ids a run is configured and reported in
//! (variants, disruptions, providers, apps, cells, reasons, Kubernetes
//! minors) and a probe's judgement. Every module may import it; it imports
//! nothing of the harness, which is what keeps the module graph acyclic.

mod app;
mod cell;
mod disruption;
pub(crate) mod id;
mod judgement;
mod minor;
mod provider;
mod reason;
mod setup;
mod variant;
mod volume;

pub(crate) use app::App;
pub use cell::Cell;
pub use disruption::{Disruption, Shared};
pub use id::{NamedId, UnknownId};
pub(crate) use judgement::show_parts;
pub use judgement::{Judgement, Part, PartKind, Verdict};
pub(crate) use minor::Minor;
pub use provider::Provider;
pub use reason::Reason;
pub use setup::Setup;
pub use variant::Variant;
pub use volume::VolumeFigures;
