"""Region codes over time (issue 19): applying a new Kepmendagri with its audit trail, the change
history and the items waiting to be placed by hand (/wilayah/perubahan).

The mechanics (diff, remap, retire) live in regions.changes, which knows no domain above it; this
package adds what needs the layers above regions: the permission rule, the audit entries and the
directorate's page. The CLI command `flask regions apply` is defined here and added to the
`regions` group."""
