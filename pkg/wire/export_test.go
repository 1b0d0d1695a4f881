package wire

// ScanForwardFrame exposes the fast path to tests.
var ScanForwardFrame = scanForwardFrame
