import Foundation

/// An I/O error as an operator reads it: the file and the system's reason (`/var/lib/klimavagt/outbox.journal: No
/// space left on device`), never Foundation's "The operation could not be completed (NSCocoaErrorDomain error 512)".
enum FileErrorText {
    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        var path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        var code: Int32?
        if ns.domain == NSPOSIXErrorDomain { code = Int32(clamping: ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            if underlying.domain == NSPOSIXErrorDomain { code = Int32(clamping: underlying.code) }
            path = path ?? underlying.userInfo[NSFilePathErrorKey] as? String
        }
        if ns.domain == NSCocoaErrorDomain, code == nil {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: code = ENOENT
            case .fileReadNoPermission, .fileWriteNoPermission: code = EACCES
            case .fileWriteOutOfSpace: code = ENOSPC
            case .fileWriteVolumeReadOnly: code = EROFS
            default: break
            }
        }
        let reason = code.map { String(cString: strerror($0)) } ?? ns.localizedFailureReason ?? "\(error)"
        return path.map { "\($0): \(reason)" } ?? reason
    }
}
