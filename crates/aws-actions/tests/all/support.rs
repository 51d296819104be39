//! What the tests share: a moto with an executor and SDK clients for checking state.

use aws_actions::moto::{Moto, SdkClients, MOTO_ACCOUNT, MOTO_REGION};
use aws_actions::{Action, Executor, Outcome, Target};

pub struct Env {
    pub exec: Executor,
    pub aws: SdkClients,
    // Last, so the server outlives the clients above.
    pub moto: Moto,
}

impl Env {
    pub async fn start() -> Env {
        let moto = Moto::start();
        let exec = Executor::new(moto.settings())
            .await
            .expect("executor for moto");
        Env {
            exec,
            aws: moto.clients(),
            moto,
        }
    }

    /// Executes `action` in moto's account, panicking on error.
    pub async fn run(&self, action: &Action) -> Outcome {
        self.exec
            .execute(action, &target(), "test-action-1")
            .await
            .unwrap_or_else(|e| panic!("{action:?} failed: {e}"))
    }

    /// Executes the inverse recorded in `outcome` (which must have one).
    pub async fn undo(&self, outcome: &Outcome) -> Outcome {
        let inverse = outcome.inverse.as_ref().expect("an inverse");
        self.run(inverse).await
    }
}

pub fn target() -> Target {
    Target {
        account: MOTO_ACCOUNT.into(),
        region: MOTO_REGION.into(),
    }
}

/// An IAM policy document as returned by Get*Policy: AWS URL-encodes it, moto may not.
pub fn policy_json(document: &str) -> serde_json::Value {
    let decoded = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_decode(document)
    };
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("policy {decoded:?}: {e}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
