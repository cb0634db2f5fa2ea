//! Identifiers as types: a task's id cannot be passed where a project's is expected. Each is
//! the same string on the wire and in the database as before (serde and sqlx see through
//! it), and reads as a `&str` where one is needed. They have no OpenAPI schema of their own:
//! a field of the API marks itself `#[schema(value_type = String)]`, so the document keeps
//! describing plain strings.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[derive(serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(super::new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                Self(s.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id_type! {
    /// A tenant: everything stored belongs to exactly one.
    TenantId
}
id_type! {
    /// A project of a tenant.
    ProjectId
}
id_type! {
    /// A task of a project.
    TaskId
}
id_type! {
    /// An integration (a channel, tracker or webhook connected to a project).
    IntegrationId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_strings_on_the_wire() {
        let id = TaskId::from("01HZ");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"01HZ\""));
        assert_eq!(serde_json::from_str::<TaskId>("\"01HZ\"").ok(), Some(id.clone()));
        assert_eq!(&*id, "01HZ");
        assert_ne!(TaskId::generate(), TaskId::generate());
    }
}
