//! The routes of the systems taskbridge replaces, gathered here as thin aliases over the v1
//! handlers and services (tagged `legacy` in the API document): the project-management
//! system's (`pm`), the Teams→Taiga service's (`teams_taiga`), and the integration backend's
//! AI, delivery, OAuth, sync, voice and Zendesk routes.

pub mod coordinator;
pub mod deliveries;
pub mod oauth;
pub mod pm;
pub mod sync;
pub mod teams_taiga;
pub mod voice;
pub mod zendesk;
