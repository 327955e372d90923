/// Imports posts from a LinkedIn data export (`Shares.csv`: Date, ShareLink, ShareCommentary, SharedUrl,
/// MediaUrl, Visibility) as post documents — the way to get one's own posts without scraping.
public enum LinkedInExportImporter {
    /// One post document per row with text; rows without commentary (plain re-shares) are skipped.
    /// Throws `invalidInput` when the header lacks `ShareCommentary` or a quoted field never closes.
    public static func posts(fromCSV text: String) throws -> [CrawledDocument] {
        let rows = try CSV.parse(text)
        guard let header = rows.first else { return [] }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let textColumn = names.firstIndex(of: "ShareCommentary") else {
            throw TwinError.invalidInput("LinkedIn export: no ShareCommentary column (is this Shares.csv?)")
        }
        let linkColumn = names.firstIndex(of: "ShareLink")
        let mediaColumn = names.firstIndex(of: "MediaUrl")
        var documents: [CrawledDocument] = []
        for row in rows.dropFirst() {
            func field(_ column: Int?) -> String {
                guard let column, column < row.count else { return "" }
                return row[column].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let text = field(textColumn)
            guard !text.isEmpty else { continue }
            var content = ["text": text]
            if !field(mediaColumn).isEmpty { content["image"] = field(mediaColumn) }
            documents.append(CrawledDocument(kind: .post, platform: "linkedin", link: field(linkColumn), content: content))
        }
        return documents
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
enum CSV {
    static func parse(_ text: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending {
                pending = nil
                return scalar
            }
            return iterator.next()
        }
        while let scalar = next() {
            if inQuotes {
                if scalar == "\"" {
                    if let following = next() {
                        if following == "\"" {
                            field.unicodeScalars.append("\"")
                        } else {
                            inQuotes = false
                            pending = following
                        }
                    } else {
                        inQuotes = false
                    }
                } else if scalar != "\r" {  // line breaks inside fields normalised to \n
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty: inQuotes = true
            case ",":
                row.append(field)
                field = ""
            case "\r": continue
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if inQuotes { throw TwinError.invalidInput("CSV: a quoted field is never closed") }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
