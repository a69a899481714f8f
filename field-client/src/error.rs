use thiserror::Error;

/// Everything the device core can refuse or fail at, in words an enumerator's app can show.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("this device is not enrolled yet: enroll with the intake address and a one-time code")]
    NotEnrolled,
    #[error("this device is already enrolled (as {0}); keep using it")]
    AlreadyEnrolled(String),
    #[error("this tablet does not carry campaign {0}")]
    UnknownCampaign(String),
    /// The campaign's name (its id until its assignment arrives).
    #[error("this tablet already carries campaign {0}")]
    CampaignOnTablet(String),
    #[error("unknown household {0}")]
    UnknownHousehold(String),
    #[error("{0}")]
    IllegalStep(#[from] sync_protocol::lifecycle::IllegalTransition),
    #[error("{0}")]
    NotAllowed(String),
    /// `question`: the first question (in form order) that stops it, for the screen to put
    /// the cursor there.
    #[error("the form is not complete: {detail}")]
    Incomplete {
        question: Option<String>,
        detail: String,
    },
    #[error("the local database was written by a newer Fieldpost (version {found}, this one knows {known}); update the app — the data is left untouched")]
    NewerDatabase { found: usize, known: usize },
    #[error("the local database cannot be read ({0}); it is left untouched — contact support")]
    CorruptDatabase(String),
    #[error("local storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("the intake could not be reached: {0}")]
    Network(String),
    #[error("the intake refused: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("the intake's answer is not authentic or not for this request: {0}")]
    BadAnswer(String),
    #[error("{0}")]
    Protocol(#[from] sync_protocol::ProtocolError),
    #[error("the form definition {0} is not known to this app")]
    UnknownForm(String),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}
