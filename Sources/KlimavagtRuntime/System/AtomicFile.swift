import Foundation

/// Reads and replaces small state files so that a crash leaves either the old or the new file, never a mix, and
/// every failure names the file and the system's reason.
enum AtomicFile {
    /// A failed system call on a state file: the file, the call and errno.
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var operation: String
        var code: Int32

        var description: String { "\(path): cannot \(operation): \(String(cString: strerror(code)))" }
    }

    /// What reading a state file found.
    enum ReadOutcome {
        case missing
        case contents(Data)
        /// There, but not readable as a file: no permission, a folder in its place, an I/O error.
        case unreadable(Failure)
    }

    /// Reads the whole file at `path`.
    static func read(_ path: String) -> ReadOutcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .missing : .unreadable(Failure(path: path, operation: "open it", code: errno))
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .unreadable(Failure(path: path, operation: "read it", code: errno))
            }
            if count == 0 { return .contents(data) }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// Writes a temporary file beside `path`, fsyncs it, renames it over `path`, and fsyncs the directory. On a
    /// failure the temporary file is removed and `path` is left as it was.
    static func write(_ data: Data, to path: String) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Failure(path: temporary, operation: "create it", code: errno) }
        var failure: Failure?
        data.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = Failure(path: temporary, operation: "write it", code: errno)
                    return
                }
                written += count
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = Failure(path: temporary, operation: "sync it", code: errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = Failure(path: path, operation: "replace it", code: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    /// Moves a damaged file aside as `NAME.damaged-SECONDS` and returns the new name.
    static func setAside(_ path: String, at seconds: Int64) -> String? {
        let aside = "\(path).damaged-\(seconds)"
        return rename(path, aside) == 0 ? aside : nil
    }
}
