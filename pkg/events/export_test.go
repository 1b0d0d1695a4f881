package events

// ScanForwardFrame exposes the fast path to tests.
var ScanForwardFrame = scanForwardFrame
