// Package dashboards owns the dashboards of each profile: the
// /api/v1/dashboards routes (list, get by id or slug, create, update with
// optimistic locking, delete, copy, export and import of dashboards as
// code), the validation of a dashboard's layout, and the provisioning of
// dashboards-as-code files (the embedded dashboards/*.json and an optional
// operator folder) into every profile as read-only dashboards.
//
// Every write is audited and published on the bus as dashboard.changed
// {dashboard_id, version}, so open pages reload the dashboard.
//
// Provisioned dashboards belong to their files: users cannot change or
// delete them (403 read_only; they copy one to edit it), provisioning
// updates them when their file changed and removes them when their file is
// gone, and it never touches a user's dashboard, even one with the same
// slug.
package dashboards
