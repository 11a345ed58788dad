// Column titles and order of every report table. The plan's own templates are
// not public: these are defaults, and a campaign may set its own
// (`reportColumns: { <table>: [{key, title}] }`) without code.
import type { Campaign } from '../invitations/campaign.js';

export interface Column {
  key: string;
  title: string;
}

const col = (key: string, title: string): Column => ({ key, title });

export const DEFAULT_COLUMNS: Record<string, Column[]> = {
  'form-01.A': [
    col('field', 'Lĩnh vực'),
    col('target', 'Chỉ tiêu'),
    col('created', 'Phiếu phát ra'),
    col('opened', 'Đã mở'),
    col('completed', 'Đã trả lời'),
    col('invalidated', 'Bị loại (hậu kiểm)'),
    col('valid', 'Hợp lệ'),
    col('responseRate', 'Tỷ lệ phản hồi (%)'),
  ],
  'form-01.B': [
    col('criterion', 'Tiêu chí'),
    col('element', 'Yếu tố'),
    col('n1', 'Mức 1'),
    col('n2', 'Mức 2'),
    col('n3', 'Mức 3'),
    col('n4', 'Mức 4'),
    col('n5', 'Mức 5'),
    col('n', 'N'),
    col('excluded', 'Không đánh giá'),
    col('rate', 'Tỷ lệ hài lòng (%)'),
    col('mean', 'Điểm trung bình'),
    col('reliability', 'Độ tin cậy'),
  ],
  'form-01.C': [col('element', 'Yếu tố'), col('rate', 'Tỷ lệ hài lòng (%)')],
  'form-01.D': [
    col('by', 'Phân theo'),
    col('group', 'Nhóm'),
    col('ballots', 'Số phiếu'),
    col('index', 'Chỉ số hài lòng (%)'),
    col('pooled', 'Tỷ lệ hài lòng chung (%)'),
    col('overall', 'Hài lòng chung (câu tổng quát, %)'),
    col('reliability', 'Độ tin cậy'),
  ],
  'form-01.E': [col('observation', 'Nội dung'), col('yes', 'Số trả lời "Có"'), col('n', 'N'), col('percent', 'Tỷ lệ (%)')],
  'form-01.F': [col('date', 'Ngày'), col('field', 'Lĩnh vực'), col('question', 'Câu hỏi'), col('text', 'Ý kiến')],
  'form-01.G': [col('criterion', 'Tiêu chí'), col('rate', 'Tỷ lệ (%)'), col('maxPoints', 'Điểm tối đa'), col('rule', 'Cách tính'), col('points', 'Điểm')],
  'form-01.units': [
    col('unit', 'Đơn vị'),
    col('ballots', 'Số phiếu hợp lệ'),
    col('index', 'Chỉ số hài lòng (%)'),
    col('pooled', 'Tỷ lệ hài lòng chung (%)'),
    col('reliability', 'Độ tin cậy'),
  ],
  'form-02.agencies': [
    col('agency', 'Cơ quan'),
    col('level', 'Cấp'),
    col('unit', 'Đơn vị được đánh giá'),
    col('sent', 'Phiếu gửi'),
    col('received', 'Phiếu nhận'),
    col('receivedOn', 'Ngày nhận'),
  ],
  'form-02.areas': [
    col('area', 'Lĩnh vực đánh giá'),
    col('good', 'Tốt'),
    col('fair', 'Khá'),
    col('average', 'Trung bình'),
    col('poor', 'Kém'),
    col('noInfo', 'Không đủ thông tin'),
    col('n', 'N'),
    col('rate', 'Tỷ lệ Tốt + Khá (%)'),
    col('reliability', 'Độ tin cậy'),
  ],
  'form-02.splits': [
    col('by', 'Phân theo'),
    col('group', 'Nhóm'),
    col('ballots', 'Số phiếu'),
    col('mean', 'Trung bình các lĩnh vực (%)'),
    col('pooled', 'Tỷ lệ chung (%)'),
  ],
  'form-02.comments': [col('date', 'Ngày'), col('level', 'Cấp cơ quan'), col('text', 'Ý kiến')],
  ballots: [
    col('no', 'STT'),
    col('unit', 'Đơn vị'),
    col('field', 'Lĩnh vực'),
    col('procedure', 'Thủ tục'),
    col('date', 'Ngày'),
    col('respondentType', 'Đối tượng'),
    col('status', 'Tình trạng'),
  ],
};

export const columnsOf = (campaign: Pick<Campaign, 'reportColumns'>, table: string): Column[] =>
  campaign.reportColumns?.[table] ?? DEFAULT_COLUMNS[table] ?? [];

/** What the tables are called, in the exported files. */
export const TABLE_TITLES: Record<string, string> = {
  'form-01.A': 'A. Phiếu theo lĩnh vực',
  'form-01.B': 'B. Theo tiêu chí',
  'form-01.C': 'C. Theo yếu tố',
  'form-01.D': 'D. Theo nhóm',
  'form-01.E': 'E. Phản ánh tiêu cực',
  'form-01.F': 'F. Ý kiến góp ý',
  'form-01.G': 'G. Điểm CCHC',
  'form-01.units': 'Đơn vị trực thuộc',
  'form-02.agencies': 'Phiếu theo cơ quan',
  'form-02.areas': 'Theo lĩnh vực đánh giá',
  'form-02.splits': 'Theo nhóm',
  'form-02.comments': 'Ý kiến khác',
  ballots: 'Phiếu khảo sát',
};
