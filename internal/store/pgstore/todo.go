package pgstore

import "errors"

// errTODO marks a method not yet written (removed before merge).
var errTODO = errors.New("pgstore: not implemented yet")
