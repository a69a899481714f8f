-- A centre now holds several campaigns, each in a store of its own; accounts, sessions, wrong
-- passwords and the audit log are the centre's (centre migrations), shared by all of them. A
-- database made before copies its rows into the centre when it is first opened (see
-- `service::centre`), and only then reaches this migration.
DROP TABLE sessions;
DROP TABLE account_districts;
DROP TABLE accounts;
DROP TABLE login_failures;
DROP TABLE audit_log;
