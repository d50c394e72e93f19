import Foundation

/// Replaces a file's contents so that a crash leaves either the old or the new file, never a mix.
enum AtomicFile {
    /// Writes a temporary file beside `path`, fsyncs it, renames it over `path`, and fsyncs the directory.
    static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary])
        }
        let written = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try written.synchronize()
        try written.close()
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
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
